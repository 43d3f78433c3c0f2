"""``receive`` matching: the config's Perl patterns (``config.receive``) under time bounds.

A match gets time bounds (``regex``'s ``timeout=``): a few milliseconds on the event loop,
where every other real's check runs too, then, for a costly pattern such as ``(a+)+$``, up to
``MATCH_TIMEOUT`` in a worker thread; running over is that check's DOWN verdict, never a
stalled director. A sane pattern against a 64 KB reply takes microseconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import time
from collections.abc import Sequence
from typing import TypeVar

import regex

from pyldirectord.config.receive import (
    ReceiveError,
    compile_bytes,
    compile_text,
    literal_bytes,
    quoted,
)

# A match first runs on the event loop for at most LOOP_SLICE: any sane pattern over a
# BODY_LIMIT reply ends well within it. One that does not is costly (backtracking): it goes on
# in a worker thread, with the GIL released, for at most MATCH_TIMEOUT, then it is DOWN.
# (regex checks its timeout every so many steps: a bound is overrun up to about three times.)
LOOP_SLICE = 0.005
MATCH_TIMEOUT = 0.5
MATCHER_THREADS = 2


async def search_bytes(pattern: str, *items: bytes) -> bool:
    """Whether ``pattern`` matches any of ``items`` (unanchored), under the two bounds.

    ReceiveError on a bad pattern or a match that ran out of time.
    """
    found = _literal_search(pattern, items)
    if found is not None:
        return found
    return await _search(compile_bytes(pattern), pattern, items)


async def search_text(pattern: str, *items: str) -> bool:
    return await _search(compile_text(pattern), pattern, items)


def search_bytes_now(pattern: str, *items: bytes) -> bool:
    """``search_bytes`` for a synchronous caller (a reply datagram's judge, called by the
    loop): only the loop's slice; a match that needs more is a ReceiveError (DOWN), as a
    costly one is in ``search_bytes``. A datagram is at most 64 KiB."""
    found = _literal_search(pattern, items)
    if found is not None:
        return found
    try:
        return _any_match(compile_bytes(pattern), items, LOOP_SLICE, release_gil=False)
    except TimeoutError:
        size = sum(len(item) for item in items)
        raise ReceiveError(match_timeout_reason(pattern, size, LOOP_SLICE)) from None


def search_bytes_in_slice(pattern: str, body: bytes) -> bool | None:
    """The loop's slice of ``search_bytes``: the answer, or None when the match needs more
    time (the caller then runs ``search_bytes``, whose worker thread bounds the rest)."""
    found = _literal_search(pattern, (body,))
    if found is not None:
        return found
    try:
        return _any_match(compile_bytes(pattern), (body,), LOOP_SLICE, release_gil=False)
    except TimeoutError:
        return None


def _literal_search(pattern: str, items: Sequence[bytes]) -> bool | None:
    """The answer for a pattern without metacharacters (a substring search), else None."""
    literal = literal_bytes(pattern)
    return None if literal is None else any(literal in item for item in items)


AnyStr = TypeVar("AnyStr", str, bytes)


async def _search(compiled: regex.Pattern[AnyStr], pattern: str, items: Sequence[AnyStr]) -> bool:
    try:
        return _any_match(compiled, items, LOOP_SLICE, release_gil=False)
    except TimeoutError:
        pass  # a costly match: the rest of it runs beside the loop, not on it
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(
            _matcher(), _any_match, compiled, items, MATCH_TIMEOUT, True
        )
    except TimeoutError:
        size = sum(len(item) for item in items)
        raise ReceiveError(match_timeout_reason(pattern, size, MATCH_TIMEOUT)) from None


def _any_match(
    compiled: regex.Pattern[AnyStr], items: Sequence[AnyStr], budget: float, release_gil: bool
) -> bool:
    """One time budget for all the items (simpletcp matches line by line)."""
    if len(items) == 1:
        # No clock reads of our own: regex keeps the time itself. In the sandbox every clock
        # read is a syscall, and two of them per match were a quarter of an http check's CPU
        # (py-spy, `make bench`).
        return compiled.search(items[0], timeout=budget, concurrent=release_gil) is not None
    deadline = time.monotonic() + budget
    for item in items:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        if compiled.search(item, timeout=left, concurrent=release_gil) is not None:
            return True
    return False


@functools.cache
def _matcher() -> concurrent.futures.ThreadPoolExecutor:
    # Its own small pool: costly matches never take the default executor's threads from the
    # rest of the daemon, and at most MATCHER_THREADS cores burn on them at once.
    return concurrent.futures.ThreadPoolExecutor(MATCHER_THREADS, "receive-match")


def match_timeout_reason(pattern: str, size: int, budget: float) -> str:
    """The reason of a match that ran out of its time bound (every caller words it alike)."""
    return f"receive {quoted(pattern)} ran over {budget:g}s on {size} bytes (too costly)"
