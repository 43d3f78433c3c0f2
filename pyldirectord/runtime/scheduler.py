"""When to check what: one jittered timer per monitored real, under a concurrency bound.

Every unit (one real id, spec 2.10: reals shared by virtuals are checked once) runs on its own
timer, so a dead real never delays another's check: detection takes at most one interval plus
that real's own timeout, however many reals are down. The first round is spread over a short
ramp instead of one burst (thousands of simultaneous connects time out on a loaded host), and a
check's timeout starts only once it holds a concurrency slot, so waiting for a slot is never
mistaken for a slow server. When the director itself falls behind (the event loop was blocked
longer than a check's timeout allows, and the check overran even the scheduler's guard), a
failed result is discarded as inconclusive rather than blamed on the real: the last state is
kept and the scheduler reports itself overloaded. A check's own deadline forgives the loop's
lateness (checks.base.ForgivingDeadline), so its timeouts are the real's.

A unit's timer never dies of an error: a fault in one round (the probe or the director's
bookkeeping of its result) is handed to ``on_error`` and the next round is scheduled as usual.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class Result(Protocol):
    @property
    def ok(self) -> bool: ...


R = TypeVar("R", bound=Result)

RAMP_PER_UNIT = 0.002  # seconds of first-round spread per unit: 1,000 reals ramp over 2 s
JITTER = 0.05  # later rounds: +-5% of the interval, so timers that start together drift apart
LAG_TICK = 0.1  # how often the lag monitor wakes
OVERLOAD_LAG = 0.5  # seconds of event-loop lateness that make the director "overloaded"
OVERLOAD_WINDOW = 10.0
GUARD_GRACE = 5.0  # seconds the scheduler's guard allows past a check's own (extended) bound


@dataclass(frozen=True, slots=True)
class Unit(Generic[R]):
    key: str
    probe: Callable[[], Awaitable[R]]
    timeout: float  # the check's own bound; the scheduler enforces it again with a grace
    interval: float


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
    """Runs each unit's probe every interval and hands each result to ``on_result``."""

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
        self._slots = asyncio.Semaphore(concurrency)
        self._rng = rng or random.Random()
        self._guard_grace = guard_grace
        self._loop = asyncio.get_running_loop()
        self._units: dict[str, Unit[R]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
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
        """Start new units, stop removed ones; a kept unit keeps its timer (reload)."""
        for key in set(self._tasks) - set(units):
            self._tasks.pop(key).cancel()
            self._due.pop(key, None)
        new = [key for key in units if key not in self._tasks]
        self._units = dict(units)
        offsets = first_round_offsets(len(new), min((units[k].interval for k in new), default=0))
        now = self._loop.time()
        for key, offset in zip(new, offsets, strict=True):
            self._tasks[key] = self._loop.create_task(self._run(key, now + offset))

    def check_now(self, key: str) -> None:
        """Restart a unit's timer so it checks at once (e.g. a maintenance file vanished)."""
        if key in self._tasks:
            self._tasks[key].cancel()
            self._tasks[key] = self._loop.create_task(self._run(key, self._loop.time()))

    async def close(self) -> None:
        tasks = [*self._tasks.values(), self._lag_task]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def _run(self, key: str, due: float) -> None:
        while True:
            self._due[key] = due
            delay = due - self._loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            unit = self._units[key]  # looked up each round: a reload may swap the probe
            try:
                await self._check(unit)
            except Exception as error:  # a bug must not end this real's checks for good
                self._on_error(key, error)
            jitter = self._rng.uniform(-JITTER, JITTER)
            due = next_due(due, unit.interval, self._loop.time(), jitter)

    async def _check(self, unit: Unit[R]) -> None:
        async with self._slots:
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
