"""When to check what: every real's next check in one queue, under a concurrency bound.

Every unit (one real id, spec 2.10: reals shared by virtuals are checked once) has its own
jittered schedule, so a dead real never delays another's check: detection takes at most one
interval plus that real's own timeout, however many reals are down. The schedules share one
heap and one timer: each wake-up starts every check due within ``TICK`` as one batch, under
one clock reading. A check with a fast path (``FastPath``: connect, plain http) starts as an
engine flight (checks/engine.py), with no Task or timer of its own; any other check runs as
a Task per round. docs/performance.md has the figures behind this shape.

The first round is spread over a short ramp instead of one burst (thousands of simultaneous
connects time out on a loaded host), and a check's timeout starts only once it has a
concurrency slot, so waiting for a slot is never mistaken for a slow server. A check's own
deadline forgives the loop's lateness (checks.base.ForgivingDeadline, and the engine's sweep
for flights), so its timeouts are the real's. Only a Task check that overran even the
scheduler's guard while the loop was stalled has its failure discarded as inconclusive: the
last state is kept and the scheduler reports itself overloaded.

A unit's schedule never dies of an error: a fault in one round (the probe or the director's
bookkeeping of its result) is handed to ``on_error`` and the next round is scheduled as usual.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pyldirectord.checks.base import CheckResult
from pyldirectord.checks.engine import Engine, Flight, engine_for


class Result(Protocol):
    @property
    def ok(self) -> bool: ...


R = TypeVar("R", bound=Result)
R_co = TypeVar("R_co", bound=Result, covariant=True)

RAMP_PER_UNIT = 0.002  # seconds of first-round spread per unit: 1,000 reals ramp over 2 s
JITTER = 0.05  # later rounds: +-5% of the interval, so timers that start together drift apart
LAG_TICK = 0.1  # how often the lag monitor wakes
OVERLOAD_LAG = 0.5  # seconds of event-loop lateness that make the director "overloaded"
OVERLOAD_WINDOW = 10.0
GUARD_GRACE = 5.0  # seconds the scheduler's guard allows past a check's own (extended) bound
# Checks due within TICK of a wake-up start in it, and the timer is armed on a TICK grid: a
# check starts at most TICK early or late, and thousands of reals cost hundreds of wake-ups.
TICK = 0.005


class FastPath(Protocol[R_co]):
    """A unit's check as engine flights, round by round (runtime/prober.py: Prober)."""

    def flight(self) -> tuple[Flight, float] | None:
        """This round's flight and its timeout, or None: this round runs ``probe`` instead."""

    def verdict(self, result: CheckResult, error: BaseException | None) -> R_co:
        """The flight's result as the unit's result (``error``: a fault ended the flight)."""


@dataclass(frozen=True, slots=True)
class Unit(Generic[R]):
    key: str
    probe: Callable[[], Awaitable[R]]
    timeout: float  # the check's own bound; the scheduler enforces it again with a grace
    interval: float
    fast: FastPath[R] | None = None


def first_round_offsets(count: int, interval: float) -> list[float]:
    """Start offsets for a first round of ``count`` units: evenly over a ramp <= interval."""
    ramp = min(interval, count * RAMP_PER_UNIT)
    return [ramp * index / count for index in range(count)]


def next_due(previous_due: float, interval: float, now: float, jitter: float) -> float:
    """The next due time: a jittered interval after the last due, never in the past.

    Counting from the previous due time (not from the end of the check) keeps the period
    equal to the interval however long the check took, unlike the reference's serial loop.
    """
    due = previous_due + interval * (1.0 + jitter)
    return max(due, now)


class LagMonitor:
    """Measures how late the event loop wakes up: the director's own slowness."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lags: list[tuple[float, float]] = []  # (woke at, lateness)

    async def run(self) -> None:
        while True:
            before = self._clock()
            await asyncio.sleep(LAG_TICK)
            woke = self._clock()
            self._lags.append((woke, max(0.0, woke - before - LAG_TICK)))
            horizon = woke - 120.0
            while self._lags and self._lags[0][0] < horizon:
                self._lags.pop(0)

    def worst_since(self, since: float) -> float:
        return max((lag for woke, lag in self._lags if woke >= since), default=0.0)


class Scheduler(Generic[R]):
    """Runs each unit's check every interval and hands each result to ``on_result``."""

    def __init__(
        self,
        on_result: Callable[[str, R, float], None],
        on_timeout: Callable[[float], R],
        concurrency: int = 1000,
        rng: random.Random | None = None,
        guard_grace: float = GUARD_GRACE,
        on_error: Callable[[str, Exception], None] | None = None,
    ) -> None:
        self._on_result = on_result
        self._on_error = on_error or self._unhandled
        self._on_timeout = on_timeout
        self._concurrency = concurrency
        self._rng = rng or random.Random()
        self._guard_grace = guard_grace
        self._loop = asyncio.get_running_loop()
        self._engine: Engine = engine_for(self._loop)
        self._units: dict[str, Unit[R]] = {}
        # A unit's schedule: heap entries (due, order, key, generation); an entry whose
        # generation is not the unit's current one is stale (removed, or restarted).
        self._heap: list[tuple[float, int, str, int]] = []
        self._order = itertools.count()
        self._generation: dict[str, int] = {}
        self._waiting: deque[tuple[str, int]] = deque()  # due, but no free slot yet
        self._running = 0
        self._flights: dict[str, Flight] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._kicked = False
        self._lag = LagMonitor(self._loop.time)
        self._lag_task = self._loop.create_task(self._lag.run())
        self.inconclusive = 0  # failed results discarded because the director was late
        self.completed = 0  # checks that ended (any verdict): the watchdog's sign of progress
        self._due: dict[str, float] = {}  # unit -> when its current (or next) check was due

    @property
    def overloaded(self) -> bool:
        """The event loop woke more than OVERLOAD_LAG late within the last OVERLOAD_WINDOW."""
        return self.lag > OVERLOAD_LAG

    @property
    def lag(self) -> float:
        """The event loop's worst lateness (seconds) within the last OVERLOAD_WINDOW."""
        return self._lag.worst_since(self._loop.time() - OVERLOAD_WINDOW)

    def overdue(self, now: float) -> int:
        """Units whose check is a whole interval later than even the guard allows: stuck."""
        return sum(
            1 for key, due in self._due.items()
            if (unit := self._units.get(key)) is not None
            and now > due + unit.interval + 2 * unit.timeout + self._guard_grace
        )  # fmt: skip

    def update(self, units: Mapping[str, Unit[R]]) -> None:
        """Start new units, stop removed ones; a kept unit keeps its schedule (reload)."""
        for key in set(self._generation) - set(units):
            self._stop_round(key)
            del self._generation[key]
            self._due.pop(key, None)
        new = [key for key in units if key not in self._generation]
        self._units = dict(units)
        offsets = first_round_offsets(len(new), min((units[k].interval for k in new), default=0))
        now = self._loop.time()
        for key, offset in zip(new, offsets, strict=True):
            self._generation[key] = 0
            self._schedule(key, 0, now + offset)
        self._arm()

    def check_now(self, key: str) -> None:
        """Restart a unit's schedule so it checks at once (e.g. a maintenance file vanished)."""
        if key in self._generation:
            self._stop_round(key)
            self._generation[key] += 1
            self._schedule(key, self._generation[key], self._loop.time())
            self._kick()

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for key in list(self._flights):
            self._stop_round(key)
        self._generation.clear()
        self._heap.clear()
        self._waiting.clear()
        tasks = [*self._tasks.values(), self._lag_task]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    # ------------------------------------------------------------------ the queue

    def _schedule(self, key: str, generation: int, due: float) -> None:
        self._due[key] = due
        heapq.heappush(self._heap, (due, next(self._order), key, generation))

    def _arm(self) -> None:
        if not self._heap:
            return
        at = (int(self._heap[0][0] / TICK) + 1) * TICK
        if self._timer is None or at < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = at
            self._timer = self._loop.call_at(at, self._tick)

    def _kick(self) -> None:
        """Start waiting units on the next loop pass (a slot was freed, or a check_now)."""
        if not self._kicked:
            self._kicked = True
            self._loop.call_soon(self._tick_soon)

    def _tick_soon(self) -> None:
        self._kicked = False
        self._start_due()

    def _tick(self) -> None:
        self._timer = None
        self._start_due()
        self._arm()

    def _start_due(self) -> None:
        """One batch: every unit due by now, under one clock reading, as slots allow."""
        self._collect(self._engine.clock())
        self._start_waiting()

    def _collect(self, now: float) -> None:
        """Move every unit due by ``now`` (and within TICK of it) to the waiting line."""
        heap, generation, waiting = self._heap, self._generation, self._waiting
        horizon = now + TICK
        while heap and heap[0][0] <= horizon:
            _, _, key, round_of = heapq.heappop(heap)
            if generation.get(key) == round_of:
                waiting.append((key, round_of))

    def _start_waiting(self) -> None:
        waiting, generation = self._waiting, self._generation
        while waiting and self._running < self._concurrency:
            key, round_of = waiting.popleft()
            if generation.get(key) == round_of:
                self._start(key, round_of)

    def _start(self, key: str, generation: int) -> None:
        unit = self._units[key]  # looked up each round: a reload may swap the check
        self._running += 1
        try:
            made = unit.fast.flight() if unit.fast is not None else None
        except Exception as error:  # a bug in building the round must not end the schedule
            self._running -= 1
            self._on_error(key, error)
            self._next_round(key, generation, unit)
            return
        if made is None:
            self._tasks[key] = self._loop.create_task(self._round(key, generation, unit))
            return
        flight, timeout = made
        self._flights[key] = flight

        def landed(result: CheckResult, error: BaseException | None) -> None:
            self._landed(key, generation, unit, result, error)

        self._engine.launch(flight, timeout, landed)

    def _stop_round(self, key: str) -> None:
        """End a unit's check in progress without a result (removed, or restarted)."""
        flight = self._flights.pop(key, None)
        if flight is not None:
            self._running -= 1
            self._engine.abort(flight)
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()  # its slot is given back when the task ends

    def _next_round(self, key: str, generation: int, unit: Unit[R]) -> None:
        if self._generation.get(key) != generation:
            return  # removed or restarted meanwhile: its new schedule is already queued
        jitter = self._rng.uniform(-JITTER, JITTER)
        self._schedule(key, generation, next_due(self._due[key], unit.interval,
                                                 self._engine.now, jitter))  # fmt: skip
        self._arm()
        if self._waiting:
            self._kick()

    # ------------------------------------------------------------------ one round

    def _landed(self, key: str, generation: int, unit: Unit[R], result: CheckResult,
                error: BaseException | None) -> None:  # fmt: skip
        """A flight ended: its verdict goes out, the next round is queued (engine callback)."""
        self._running -= 1
        self._flights.pop(key, None)
        self.completed += 1
        assert unit.fast is not None
        try:
            self._on_result(key, unit.fast.verdict(result, error), self._engine.now)
        except Exception as fault:  # a bug must not end this real's checks for good
            self._on_error(key, fault)
        self._next_round(key, generation, unit)

    async def _round(self, key: str, generation: int, unit: Unit[R]) -> None:
        """One round of a check without a fast path, as a Task."""
        try:
            await self._check(unit)
        except Exception as error:  # a bug must not end this real's checks for good
            self._on_error(key, error)
        finally:
            self._running -= 1
            if self._tasks.get(key) is asyncio.current_task():
                del self._tasks[key]
        self._engine.clock()
        self._next_round(key, generation, unit)

    async def _check(self, unit: Unit[R]) -> None:
        started = self._loop.time()
        guard = False
        try:
            # Only for a check that ignores its own bound: that bound, as much again (its
            # deadline may be pushed back by the loop's lateness, up to the bound), and
            # GUARD_GRACE, so that on a saturated loop (each pass a second late) the
            # check's own deadline still wins. A tighter guard (bound x 2 + 1 s) beat it
            # there and made most timeouts of dead reals inconclusive (make bench N=5000).
            async with asyncio.timeout(2 * unit.timeout + self._guard_grace):
                result = await unit.probe()
        except TimeoutError:
            result, guard = self._on_timeout(unit.timeout), True
        finished = self._loop.time()
        self.completed += 1
        if not result.ok and self._director_was_late(unit, started, guard):
            self.inconclusive += 1
            return
        self._on_result(unit.key, result, finished)

    def _unhandled(self, key: str, error: Exception) -> None:
        self._loop.call_exception_handler(
            {"message": f"check of {key} failed; its timer carries on", "exception": error}
        )

    def _director_was_late(self, unit: Unit[R], started: float, guard: bool) -> bool:
        """Whether a failure may be the director's own lateness rather than the real's.

        Only when the scheduler's guard had to stop a check that overran its own bound during
        a stall. A check's own timeout already forgives the director's lateness (its deadline
        is pushed back by as long as the loop was late: checks.base.ForgivingDeadline), so a
        timeout it reports is the real's. Discarding timeouts that merely overlapped a stall
        instead kept a saturated director from ever detecting a dead real (`make bench`,
        5,000 reals on one vCPU), and judging by "any stall during the check" made 1,000-real
        detection take 17-20 s.
        """
        return guard and self._lag.worst_since(started) > unit.timeout / 2
