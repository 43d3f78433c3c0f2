"""Checks whose only good client library blocks: run them in a worker thread, bounded.

The verdict comes back at the check's timeout even when the library is still blocked in its
thread: the thread is abandoned, and ends by itself soon after, because each check gives its
library socket timeouts no longer than the check's own. Threads are daemons (a lingering one
never holds up the director's exit) and at most ``MAX_THREADS`` run at once per event loop;
a check waiting for a free thread has not issued its I/O yet, so that wait is not counted
against its timeout (docs/design.md: a check's time runs from when its I/O starts).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import weakref
from collections.abc import Callable

from pyldirectord.checks.base import CheckResult, Outcome, bounded, os_error_reason, timeout_reason

MAX_THREADS = 32
# A library's own timeout may run this long past the check's verdict: the verdict is then
# always the check's bound (not a race between two equal timers), and the thread ends soon.
LINGER = 1.0

_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _slots_of(loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(MAX_THREADS)
    return slots


async def in_thread(timeout: float, work: Callable[[], Outcome]) -> CheckResult:
    """``work()`` in a daemon thread; its outcome, or a timeout verdict after ``timeout``."""
    loop = asyncio.get_running_loop()
    slots = _slots_of(loop)
    await slots.acquire()
    verdict: asyncio.Future[Outcome] = loop.create_future()

    def finish(outcome: Outcome) -> None:  # on the loop
        slots.release()
        if not verdict.done():
            verdict.set_result(outcome)

    def run() -> None:  # in the thread
        outcome = guarded(work, timeout)
        # The loop may have closed while an abandoned thread lingered: nobody waits then.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(finish, outcome)

    try:
        threading.Thread(target=run, name="pyldirectord-check", daemon=True).start()
    except BaseException:
        slots.release()
        raise
    # shield: a timeout abandons the thread's result, it never cancels the future it will set.
    return await bounded(timeout, lambda: asyncio.shield(verdict))


def library_timeout(library: float, verdict: float) -> float:
    """The library's timeout (negotiatetimeout), but never far past the check's verdict."""
    return min(library, verdict + LINGER)


def guarded(work: Callable[[], Outcome], timeout: float) -> Outcome:
    """Any failure inside a library is the check's down verdict, never an escaped exception."""
    try:
        return work()
    except TimeoutError:
        return False, timeout_reason(timeout)
    except OSError as err:
        return False, os_error_reason(err)
    except Exception as err:  # a library's own error type, or its bug on hostile input
        return False, f"{type(err).__name__}: {err}".rstrip(": ")


def tls_context(verify: bool) -> ssl.SSLContext:
    """Certificates are not verified unless asked, as for HTTPS (docs/compatibility-checks.md)."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
