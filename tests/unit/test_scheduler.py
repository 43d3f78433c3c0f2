"""The scheduler with real asyncio time: counts of events with generous deadlines, no timing
assertions (latency figures belong to `make bench`)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from pyldirectord.checks.base import CheckResult, Outcome, bounded
from pyldirectord.runtime.scheduler import (
    LagMonitor,
    Scheduler,
    Unit,
    first_round_offsets,
    next_due,
)

DEADLINE = 30.0


@dataclass(frozen=True)
class Seen:
    ok: bool
    reason: str
    elapsed: float = 0.0


def timed_out(timeout: float) -> Seen:
    return Seen(False, f"timeout after {timeout}s")


def unit(key: str, probe: Callable[[], Awaitable[Seen]], interval: float = 0.05) -> Unit[Seen]:
    return Unit(key=key, probe=probe, timeout=0.2, interval=interval)


async def good() -> Seen:
    return Seen(True, "ok")


async def hang() -> Seen:
    await asyncio.sleep(3600)
    raise AssertionError("unreachable")


async def wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE):
        while not condition():
            await asyncio.sleep(0.01)


def test_first_round_is_spread_over_a_ramp_no_longer_than_the_interval() -> None:
    assert first_round_offsets(4, 10.0) == [0.0, 0.002, 0.004, 0.006]
    offsets = first_round_offsets(10_000, 10.0)
    assert offsets[0] == 0.0 and max(offsets) < 10.0 and offsets == sorted(offsets)


def test_next_due_keeps_the_period_and_never_schedules_in_the_past() -> None:
    assert next_due(100.0, 10.0, now=101.0, jitter=0.0) == 110.0
    assert next_due(100.0, 10.0, now=101.0, jitter=0.05) == pytest.approx(110.5)
    assert next_due(100.0, 10.0, now=125.0, jitter=0.0) == 125.0


async def test_every_unit_is_checked_again_and_again() -> None:
    counts: Counter[str] = Counter()
    scheduler = Scheduler[Seen](lambda key, r, at: counts.update([key]), timed_out)
    scheduler.update({k: unit(k, good) for k in ("a", "b", "c")})
    await wait_for(lambda: min(counts[k] for k in "abc") >= 3)
    await scheduler.close()


async def test_a_hanging_real_never_delays_another() -> None:
    results: dict[str, list[Seen]] = {"dead": [], "live": []}
    scheduler = Scheduler[Seen](lambda key, r, at: results[key].append(r), timed_out,
                                guard_grace=1.0)  # fmt: skip
    scheduler.update({"dead": unit("dead", hang), "live": unit("live", good)})
    await wait_for(lambda: len(results["dead"]) >= 1)
    live_before = len(results["live"])
    await wait_for(lambda: len(results["live"]) >= live_before + 3)
    await scheduler.close()
    print(f"live checks while the dead one timed out once: {live_before}")
    assert results["dead"][0] == Seen(False, "timeout after 0.2s")
    assert live_before >= 1


async def test_concurrency_is_bounded() -> None:
    in_flight, peak, done = 0, 0, 0

    async def slow() -> Seen:
        nonlocal in_flight, peak, done
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        done += 1
        return Seen(True, "ok")

    scheduler = Scheduler[Seen](lambda *_: None, timed_out, concurrency=2)
    scheduler.update({str(i): unit(str(i), slow) for i in range(8)})
    await wait_for(lambda: done >= 16)
    await scheduler.close()
    assert peak == 2


async def test_update_keeps_timers_of_kept_units_and_stops_removed_ones() -> None:
    counts: Counter[str] = Counter()
    scheduler = Scheduler[Seen](lambda key, r, at: counts.update([key]), timed_out)
    scheduler.update({"a": unit("a", good), "b": unit("b", good)})
    await wait_for(lambda: counts["b"] >= 2)
    scheduler.update({"a": unit("a", good), "c": unit("c", good)})
    b_after_removal = counts["b"]
    await wait_for(lambda: counts["c"] >= 3 and counts["a"] >= 5)
    await scheduler.close()
    assert counts["b"] == b_after_removal


async def test_lag_monitor_sees_a_blocked_loop() -> None:
    loop = asyncio.get_running_loop()
    monitor = LagMonitor(loop.time)
    task = loop.create_task(monitor.run())
    await asyncio.sleep(0.15)
    since = loop.time()
    time.sleep(0.4)  # the director blocking its own loop, as a CPU-starved host would
    await asyncio.sleep(0.25)
    task.cancel()
    assert monitor.worst_since(since) >= 0.3


def from_check(result: CheckResult) -> Seen:
    return Seen(result.ok, result.reason, result.elapsed)


def bounded_probe(attempt: Callable[[], Awaitable[Outcome]]) -> Callable[[], Awaitable[Seen]]:
    """A unit's probe: ``attempt`` under a real check's 0.2 s bound (checks.base.bounded)."""

    async def probe() -> Seen:
        return from_check(await bounded(0.2, attempt))

    return probe


async def failures_and_inconclusive(probe: Callable[[], Awaitable[Seen]],
                                    rounds: int) -> tuple[list[Seen], int]:  # fmt: skip
    failed: list[Seen] = []
    # A guard of 0.2 x 2 + 1 = 1.4 s: the default grace (5 s) would only make the tests slow.
    scheduler = Scheduler[Seen](lambda key, r, at: failed.append(r), timed_out, guard_grace=1.0)
    scheduler.update({"r": unit("r", probe)})
    await wait_for(lambda: len(failed) + scheduler.inconclusive >= rounds)
    await scheduler.close()
    return failed, scheduler.inconclusive


async def test_an_answer_that_arrived_during_a_stall_beats_the_late_deadline() -> None:
    """The answer (at 0.1 s) and the 0.2 s deadline both become due while the loop is blocked
    until 0.35 s: a plain timeout would fail the check in that pass; the forgiving one reads
    the answer first."""
    loop = asyncio.get_running_loop()

    async def answered_during_a_stall() -> Outcome:
        answer: asyncio.Future[Outcome] = loop.create_future()
        loop.call_later(0.1, answer.set_result, (True, "answered"))
        loop.call_later(0.05, time.sleep, 0.3)  # the director's loop blocked past both
        return await answer

    results = [await bounded(0.2, answered_during_a_stall) for _ in range(3)]
    assert [(r.ok, r.reason) for r in results] == [(True, "answered")] * 3


async def test_a_real_silent_after_the_stall_ends_fails_once_the_stall_is_forgiven() -> None:
    async def stalls_past_the_deadline() -> Outcome:
        time.sleep(0.4)  # the director's loop blocked across the 0.2 s deadline
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    probe = bounded_probe(stalls_past_the_deadline)
    failed, inconclusive = await failures_and_inconclusive(probe, rounds=2)
    assert inconclusive == 0 and len(failed) >= 2
    # Pushed back once by the 0.2 s it fired late: the real had 0.2 s of a free loop.
    assert all(seen.reason == "timeout after 0.2s" and seen.elapsed >= 0.55 for seen in failed)


async def test_a_check_that_overran_the_guard_during_a_stall_is_inconclusive() -> None:
    async def blocks_without_a_deadline() -> Seen:
        time.sleep(1.5)  # past the 0.2 s timeout and the scheduler's 1.4 s guard, loop blocked
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    failed, inconclusive = await failures_and_inconclusive(blocks_without_a_deadline, rounds=1)
    assert failed == [] and inconclusive >= 1


async def test_a_failure_before_its_deadline_counts_even_after_a_stall() -> None:
    async def stalls_then_refused() -> Outcome:
        time.sleep(0.15)  # a stall that ends before the deadline: the refusal is the real's
        await asyncio.sleep(0)  # a real check suspends on its I/O
        raise ConnectionRefusedError(111, "Connection refused")

    probe = bounded_probe(stalls_then_refused)
    failed, inconclusive = await failures_and_inconclusive(probe, rounds=3)
    assert inconclusive == 0
    assert {seen.reason for seen in failed} == {"Connection refused"}


async def test_a_timeout_that_fires_on_time_is_the_real_s_failure() -> None:
    async def silent() -> Outcome:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    probe = bounded_probe(silent)
    failed, inconclusive = await failures_and_inconclusive(probe, rounds=3)
    assert inconclusive == 0 and len(failed) >= 3
    assert all(seen.reason.startswith("timeout") for seen in failed)


async def test_a_fault_in_a_round_is_reported_and_the_timer_carries_on() -> None:
    """An exception in the probe or in the result's handling must not end a real's timer."""
    faults: list[tuple[str, str]] = []
    delivered: Counter[str] = Counter()
    rounds: Counter[str] = Counter()

    async def raises_every_other_round() -> Seen:
        rounds["buggy"] += 1
        if rounds["buggy"] % 2:
            raise IndexError("list index out of range")
        return Seen(True, "ok")

    def on_result(key: str, result: Seen, at: float) -> None:
        delivered[key] += 1
        if key == "picky":
            raise KeyError("a bookkeeping bug")

    scheduler = Scheduler[Seen](
        on_result, timed_out, on_error=lambda key, error: faults.append((key, repr(error)))
    )
    scheduler.update(
        {"buggy": unit("buggy", raises_every_other_round), "picky": unit("picky", good)}
    )
    await wait_for(lambda: delivered["buggy"] >= 3 and delivered["picky"] >= 3)
    await scheduler.close()
    assert ("buggy", "IndexError('list index out of range')") in faults
    assert ("picky", "KeyError('a bookkeeping bug')") in faults
