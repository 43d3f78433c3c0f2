"""The check engine (checks/engine.py) and the scheduler's fast path, with real sockets.

A test flight watches one end of a socketpair; the test makes it readable (or not) from the
other end. Counts of events with generous deadlines; no timing assertions.
"""

from __future__ import annotations

import asyncio
import gc
import select
import socket
import time
import weakref
from collections.abc import Callable

import pytest

from pyldirectord.checks.base import CheckResult
from pyldirectord.checks.engine import Engine, Flight, engine_for, run_flight
from pyldirectord.runtime.scheduler import Scheduler, Unit

DEADLINE = 30.0


class Pair(Flight):
    """Up when its end of a socketpair becomes readable; ``bug`` raises from on_ready."""

    __slots__ = ("_mine", "bug", "closed", "theirs")

    def __init__(self, bug: bool = False) -> None:
        self._mine, self.theirs = socket.socketpair()
        self._mine.setblocking(False)
        self.bug = bug
        self.closed = False

    def begin(self) -> None:
        self.watch(self._mine.fileno(), select.EPOLLIN)

    def on_ready(self, events: int) -> None:
        if self.bug:
            raise IndexError("list index out of range")
        self.finish(True, self._mine.recv(100).decode())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._mine.close()
            self.theirs.close()


async def wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_ready_flight_ends_with_its_verdict_and_releases_its_socket() -> None:
    flight = Pair()
    flight.theirs.send(b"answered")
    result = await run_flight(flight, 5.0)
    assert (result.ok, result.reason) == (True, "answered")
    assert flight.closed


async def test_a_silent_flight_times_out_and_is_closed() -> None:
    flight = Pair()
    result = await run_flight(flight, 0.2)
    assert (result.ok, result.reason) == (False, "timeout after 0.2s")
    assert flight.closed and result.elapsed >= 0.2


async def test_an_answer_that_arrived_during_a_stall_beats_the_late_deadline() -> None:
    """The answer and the deadline both fall inside a stall of the loop: the sweep reads
    what arrived before it expires anything."""
    loop = asyncio.get_running_loop()
    flight = Pair()
    loop.call_later(0.05, flight.theirs.send, b"answered")
    loop.call_later(0.06, time.sleep, 0.4)  # the director's loop blocked past the deadline
    result = await run_flight(flight, 0.2)
    assert (result.ok, result.reason) == (True, "answered")


async def test_a_late_sweep_gives_the_real_as_long_again_before_failing_it() -> None:
    loop = asyncio.get_running_loop()
    loop.call_later(0.01, time.sleep, 0.4)  # blocked across the 0.2 s deadline
    result = await run_flight(Pair(), 0.2)
    assert (result.ok, result.reason) == (False, "timeout after 0.2s")
    assert result.elapsed >= 0.55  # pushed back once by the ~0.2 s it fired late


async def test_a_fault_in_a_flight_is_its_own_and_the_others_carry_on() -> None:
    engine = engine_for(asyncio.get_running_loop())
    ended: dict[str, tuple[CheckResult, BaseException | None]] = {}
    flights = {"buggy": Pair(bug=True), "fine": Pair()}
    def done(name: str) -> Callable[[CheckResult, BaseException | None], None]:
        return lambda result, error: ended.__setitem__(name, (result, error))

    engine.clock()
    for name, flight in flights.items():
        engine.launch(flight, 5.0, done(name))
        flight.theirs.send(b"answered")
    await wait_for(lambda: len(ended) == 2)
    result, error = ended["buggy"]
    assert not result.ok and isinstance(error, IndexError) and flights["buggy"].closed
    assert ended["fine"][0].ok and ended["fine"][1] is None
    assert engine.in_flight == 0


async def test_run_flight_raises_a_flight_s_fault_for_the_prober_to_contain() -> None:
    flight = Pair(bug=True)
    flight.theirs.send(b"x")
    with pytest.raises(IndexError):
        await run_flight(flight, 5.0)
    assert flight.closed


async def test_an_aborted_flight_reports_nothing_and_is_closed() -> None:
    engine = engine_for(asyncio.get_running_loop())
    ended: list[CheckResult] = []
    flight = Pair()
    engine.clock()
    engine.launch(flight, 0.1, lambda r, e: ended.append(r))
    engine.abort(flight)
    await asyncio.sleep(0.3)  # past its deadline: no timeout is reported either
    assert ended == [] and flight.closed and engine.in_flight == 0


class Answers:
    """A unit's fast path: each round a Pair that the test may answer."""

    def __init__(self, answer: bool = True, bad_verdicts: int = 0) -> None:
        self.answer = answer
        self.bad_verdicts = bad_verdicts
        self.started = 0
        self.in_flight: list[Pair] = []

    def flight(self) -> tuple[Flight, float]:
        self.started += 1
        pair = Pair()
        if self.answer:
            pair.theirs.send(b"up")
        self.in_flight = [p for p in self.in_flight if not p.closed] + [pair]
        return pair, 0.2

    def verdict(self, result: CheckResult, error: BaseException | None) -> CheckResult:
        if self.bad_verdicts:
            self.bad_verdicts -= 1
            raise KeyError("a bookkeeping bug")
        return result


async def never() -> CheckResult:
    raise AssertionError("a unit with a fast path never runs its probe")


def fast_unit(key: str, answers: Answers, interval: float = 0.05) -> Unit[CheckResult]:
    return Unit(key, never, 0.2, interval, answers)


def timed_out(timeout: float) -> CheckResult:
    return CheckResult(False, f"guard after {timeout}s", timeout)


async def test_fast_units_are_checked_again_and_again_and_a_dead_one_delays_none() -> None:
    seen: dict[str, list[CheckResult]] = {"up": [], "dead": []}
    scheduler = Scheduler[CheckResult](lambda key, r, at: seen[key].append(r), timed_out)
    scheduler.update({"up": fast_unit("up", Answers()), "dead": fast_unit("dead", Answers(False))})
    await wait_for(lambda: len(seen["up"]) >= 10 and len(seen["dead"]) >= 2)
    await scheduler.close()
    assert all(r.ok for r in seen["up"])
    assert {r.reason for r in seen["dead"]} == {"timeout after 0.2s"}


async def test_fast_units_respect_the_concurrency_bound() -> None:
    answers = {f"r{n}": Answers(False) for n in range(6)}
    peak = 0

    def in_flight() -> int:
        return sum(1 for a in answers.values() for pair in a.in_flight if not pair.closed)

    class Counted(Answers):
        def flight(self) -> tuple[Flight, float]:
            nonlocal peak
            made = super().flight()
            peak = max(peak, in_flight())
            return made

    answers = {key: Counted(False) for key in answers}
    seen: list[str] = []
    scheduler = Scheduler[CheckResult](lambda key, r, at: seen.append(key), timed_out, 2)
    scheduler.update({key: fast_unit(key, a) for key, a in answers.items()})
    await wait_for(lambda: len(seen) >= 12)
    await scheduler.close()
    assert peak == 2  # silent reals hold their slot until their timeout: never a third
    assert set(seen) == set(answers)  # and every unit got its turn
    assert engine_for(asyncio.get_running_loop()).in_flight == 0


async def test_a_fault_in_a_verdict_is_reported_and_the_schedule_carries_on() -> None:
    faults: list[str] = []
    seen: list[CheckResult] = []
    scheduler = Scheduler[CheckResult](
        lambda key, r, at: seen.append(r), timed_out,
        on_error=lambda key, error: faults.append(f"{key}: {error!r}"),
    )  # fmt: skip
    scheduler.update({"picky": fast_unit("picky", Answers(bad_verdicts=2))})
    await wait_for(lambda: len(seen) >= 3)
    await scheduler.close()
    assert faults == ["picky: KeyError('a bookkeeping bug')"] * 2
    assert scheduler.completed >= 5


async def test_removed_and_restarted_fast_units_leave_no_flight_behind() -> None:
    slow = Answers(False)
    seen: list[str] = []
    scheduler = Scheduler[CheckResult](lambda key, r, at: seen.append(key), timed_out)
    scheduler.update({"gone": fast_unit("gone", slow, interval=3600)})
    await wait_for(lambda: slow.started == 1)
    scheduler.check_now("gone")  # the round in flight is dropped, a new one starts at once
    await wait_for(lambda: slow.started == 2)
    scheduler.update({})
    await asyncio.sleep(0.4)  # past the 0.2 s timeout: a dropped round reports nothing
    await scheduler.close()
    assert seen == [] and all(pair.closed for pair in slow.in_flight)
    assert engine_for(asyncio.get_running_loop()).in_flight == 0


def test_an_engine_lets_its_loop_go() -> None:
    """Engines are kept per loop in a weak mapping: an engine holding its loop strongly would
    keep every finished loop, and its epoll set, alive for good."""
    loop = asyncio.new_event_loop()
    engine = engine_for(loop)
    gone = weakref.ref(loop)
    loop.close()
    del loop
    gc.collect()
    assert gone() is None and isinstance(engine, Engine)
