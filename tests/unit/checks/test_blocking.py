"""Blocking client libraries in worker threads: bounded in time and in number (issue 13)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pyldirectord.checks import blocking
from pyldirectord.checks.base import Outcome


async def test_the_verdict_comes_at_the_timeout_while_the_thread_lingers() -> None:
    release = threading.Event()

    def stuck() -> Outcome:
        release.wait(30)  # a library blocked in a read; 30 s only catches a hang
        return True, "late answer"

    try:
        result = await blocking.in_thread(0.2, stuck)
        assert (result.ok, result.reason) == (False, "timeout after 0.2s")
        assert any(t.name == "pyldirectord-check" and t.daemon for t in threading.enumerate())
    finally:
        release.set()


async def test_a_library_error_is_a_down_verdict_not_an_exception() -> None:
    def broken() -> Outcome:
        raise KeyError((1, 20))

    def refused() -> Outcome:
        raise ConnectionRefusedError(111, "Connection refused")

    assert (await blocking.in_thread(5, broken)).reason == "KeyError: (1, 20)"
    assert (await blocking.in_thread(5, refused)).reason == "Connection refused"


async def test_at_most_max_threads_run_at_once_and_queued_time_is_not_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With one thread slot, each check waits for the previous thread to end, and its own
    timeout starts only then: the fifth waits 2 s in the queue, longer than its 2 s bound,
    and is still up (the wait is the director's, not the real's)."""
    monkeypatch.setattr(blocking, "MAX_THREADS", 1)
    running = 0
    most = 0
    lock = threading.Lock()

    def work() -> Outcome:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        threading.Event().wait(0.5)
        with lock:
            running -= 1
        return True, "ok"

    results = await asyncio.gather(*(blocking.in_thread(2.0, work) for _ in range(5)))
    assert [r.reason for r in results] == ["ok"] * 5
    assert most == 1
