"""Checks in flight: every socket on one epoll set, every deadline in one queue (no Task).

A check written as a ``Flight`` (connect, plain http) is a small state machine driven by its
socket's readiness. The ``Engine`` of the event loop watches all of them on its own epoll
set, registered once with the loop, so the readiness of hundreds of checks arrives in one
``epoll_wait`` and is dispatched in one tight loop; their deadlines sit in FIFO queues (one
per timeout value: checks started later end later) behind a single timer. A check then costs
the syscalls it needs (socket, connect, epoll_ctl, close) and a few Python calls: no Task, no
future, no TimerHandle and no clock read of its own. `make bench-checks` measured the
coroutine path at about twice the CPU per check (docs/performance.md).

A deadline forgives the director's own lateness, as ``base.ForgivingDeadline`` does for the
coroutine checks: before expiring anything the sweep reads whatever readiness is pending,
and a sweep that runs late (the loop was busy) gives the expired checks once as long again
as it was late, so a reply that is already there, or a request that went out late, is not
blamed on the real.

Containment (docs/design.md): whatever a flight raises ends that flight, DOWN, with the
error handed to its ``done`` callback; the engine and the other flights carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import select
import weakref
from collections import deque
from collections.abc import Awaitable, Callable

from pyldirectord.checks.base import LATE_GRACE, CheckResult, timeout_reason

# A flight's outcome: its result, and the exception when a fault (not the real) ended it.
Done = Callable[[CheckResult, BaseException | None], None]

# The sweep timer is armed on this grid: deadlines that fall close together expire in one
# wake-up. A timeout ends at most this much later than asked, against seconds of timeout.
SWEEP_GRID = 0.01
MAX_EVENTS = 1024  # readiness events taken per epoll_wait; more wait for the next loop pass


class Flight:
    """One check's I/O in flight. Subclasses implement ``begin``, ``on_ready`` and ``close``.

    ``begin`` opens the socket(s) and ``watch``es them (or finishes at once); ``on_ready``
    gets the epoll events of a watched socket; ``close`` releases every resource (closing a
    socket also takes it off the epoll set). A flight ends by calling ``finish`` exactly once
    (later calls are ignored), or by the engine (timeout, fault, abort).
    """

    __slots__ = (
        "_done",
        "_extended",
        "_handoff",
        "deadline",
        "engine",
        "finished",
        "started",
        "timeout",
    )  # fmt: skip

    engine: Engine
    _done: Done
    started: float  # the engine's clock when the check's I/O was issued
    deadline: float
    timeout: float
    finished: bool
    _extended: bool  # the deadline was pushed back once already
    _handoff: asyncio.Task[None] | None

    def begin(self) -> None:
        raise NotImplementedError

    def on_ready(self, events: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def watch(self, fd: int, events: int) -> None:
        self.engine.watch(fd, events, self)

    def finish(self, ok: bool, reason: str) -> None:
        self.engine.end(self, ok, reason, None)

    def hand_off(self, work: Callable[[], Awaitable[tuple[bool, str]]]) -> None:
        """Go on as a coroutine (a redirect, a costly receive match), under the same deadline.

        The flight stays in flight: its deadline still ends it, and cancels the coroutine.
        """
        self.close()
        self._handoff = self.engine.spawn(self, work)


class Engine:
    """The loop's flights: ``launch`` starts one; its ``done`` gets the result, once."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Only a weak reference: the engine is kept per loop in a WeakKeyDictionary, and a
        # strong one would keep every finished loop (and its epoll set) alive for good.
        self._loop_ref = weakref.ref(loop)
        self._epoll = select.epoll()
        self._watched: dict[int, Flight] = {}
        self._queues: dict[float, deque[Flight]] = {}  # timeout -> flights by deadline
        self._extended: list[tuple[float, int, Flight]] = []  # heap: deadlines pushed back
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self.in_flight = 0
        # Read once per batch (a launch batch, a readiness batch, a sweep): every flight
        # started or ended in that batch shares the reading.
        self.now = loop.time()
        loop.add_reader(self._epoll.fileno(), self._ready)

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop_ref()
        if loop is None:
            raise RuntimeError("the engine's event loop is gone")
        return loop

    def clock(self) -> float:
        """Read the loop's clock for the batch about to start flights."""
        self.now = self._loop.time()
        return self.now

    def launch(self, flight: Flight, timeout: float, done: Done) -> None:
        """Start ``flight`` now (``self.now``: call ``clock()`` once per batch first)."""
        flight.engine, flight._done = self, done
        flight.started, flight.timeout = self.now, timeout
        flight.deadline = self.now + timeout
        flight.finished, flight._extended, flight._handoff = False, False, None
        self.in_flight += 1
        try:
            flight.begin()
        except Exception as error:  # a fault in the check's code, not the real's failure
            self.end(flight, False, f"{type(error).__name__}: {error}", error)
            return
        if flight.finished:
            return
        queue = self._queues.get(timeout)
        if queue is None:
            queue = self._queues[timeout] = deque()
        queue.append(flight)
        self._arm(flight.deadline)

    def abort(self, flight: Flight) -> None:
        """End a flight without a result (its unit was removed or restarted)."""
        self._land(flight)

    def watch(self, fd: int, events: int, flight: Flight) -> None:
        self._epoll.register(fd, events)
        self._watched[fd] = flight

    def end(self, flight: Flight, ok: bool, reason: str, error: BaseException | None) -> None:
        if self._land(flight):
            flight._done(CheckResult(ok, reason, self.now - flight.started), error)

    def spawn(self, flight: Flight, work: Callable[[], Awaitable[tuple[bool, str]]]
              ) -> asyncio.Task[None]:  # fmt: skip
        async def carry_on() -> None:
            error: Exception | None = None
            try:
                ok, reason = await work()
            except Exception as fault:
                error, ok, reason = fault, False, f"{type(fault).__name__}: {fault}"
            self.now = self._loop.time()
            self.end(flight, ok, reason, error)

        return self._loop.create_task(carry_on())

    # ------------------------------------------------------------------ inside

    def _land(self, flight: Flight) -> bool:
        """Take a flight out of the air, once: False when it had ended already."""
        if flight.finished:
            return False
        flight.finished = True
        self.in_flight -= 1
        self._release(flight)
        if not self.in_flight:
            self._idle()
        return True

    def _release(self, flight: Flight) -> None:
        with contextlib.suppress(Exception):  # a close that fails has nothing to release
            flight.close()
        if flight._handoff is not None:
            flight._handoff.cancel()
            flight._handoff = None

    def _idle(self) -> None:
        """Nothing in flight: drop the queues and the timer (which holds the loop)."""
        self._queues.clear()
        self._extended.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _ready(self) -> None:
        self.now = self._loop.time()
        watched = self._watched
        for fd, events in self._epoll.poll(0, MAX_EVENTS):
            flight = watched.get(fd)
            if flight is None:
                continue
            if flight.finished:
                # Its socket is closed (and so off the epoll set); the fd may be reused.
                del watched[fd]
                continue
            try:
                flight.on_ready(events)
            except Exception as error:
                self.end(flight, False, f"{type(error).__name__}: {error}", error)
            if flight.finished:
                watched.pop(fd, None)

    def _arm(self, deadline: float) -> None:
        at = (int(deadline / SWEEP_GRID) + 1) * SWEEP_GRID
        if self._timer is None or at < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = at
            self._timer = self._loop.call_at(at, self._sweep)

    def _sweep(self) -> None:
        self._timer = None
        self._ready()  # what has arrived is read before anything is expired
        now = self.now
        expired: list[Flight] = []
        for timeout, queue in list(self._queues.items()):
            while queue and (queue[0].finished or queue[0].deadline <= now):
                flight = queue.popleft()
                if not flight.finished:
                    expired.append(flight)
            if not queue:
                del self._queues[timeout]
        heap = self._extended
        while heap and (heap[0][2].finished or heap[0][0] <= now):
            _, _, flight = heapq.heappop(heap)
            if not flight.finished:
                expired.append(flight)
        for flight in expired:
            late = now - flight.deadline
            if late > LATE_GRACE + SWEEP_GRID and not flight._extended:
                # The director was late, not (yet) the real: once, as long again as it was.
                flight._extended = True
                flight.deadline = now + min(late, flight.timeout)
                heapq.heappush(heap, (flight.deadline, next(self._order), flight))
            else:
                self.end(flight, False, timeout_reason(flight.timeout), None)
        self._rearm()

    def _rearm(self) -> None:
        heads = [queue[0].deadline for queue in self._queues.values()]
        if self._extended:
            heads.append(self._extended[0][0])
        if heads:
            self._arm(min(heads))


_engines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Engine]
_engines = weakref.WeakKeyDictionary()


def engine_for(loop: asyncio.AbstractEventLoop) -> Engine:
    """The loop's one engine, made on first use. It lives as long as the loop: once the loop
    is closed and gone, so is the engine's entry here, and its epoll set is closed with it."""
    engine = _engines.get(loop)
    if engine is None:
        engine = _engines[loop] = Engine(loop)
    return engine


async def run_flight(flight: Flight, timeout: float) -> CheckResult:
    """One flight as a coroutine (``--probe``, tests, a single check): its result.

    A fault inside the flight is raised here, as a coroutine check's would be, so the caller's
    containment (the prober) sees the same thing on both paths.
    """
    loop = asyncio.get_running_loop()
    engine = engine_for(loop)
    outcome: asyncio.Future[CheckResult] = loop.create_future()

    def done(result: CheckResult, error: BaseException | None) -> None:
        if outcome.done():
            return
        if error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(result)

    engine.clock()
    engine.launch(flight, timeout, done)
    try:
        return await outcome
    except asyncio.CancelledError:
        engine.abort(flight)
        raise
