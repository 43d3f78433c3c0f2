"""Is this real up? The pure state machine from check results to real state (spec 3.3).

One ``RealHealth`` per (virtual, real): the reference keeps one failure counter per real and
bumps it once per virtual sharing it, so a real in k virtuals fell after failurecount/k checks;
counting per pair fixes that (spec 8 #28) while a shared real is still checked once per pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum


class State(Enum):
    UNKNOWN = "unknown"  # never checked, not adopted from the kernel
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class RealHealth:
    state: State = State.UNKNOWN
    failures: int = 0  # consecutive failed checks while up (soft failures)
    successes: int = 0  # consecutive good checks while down (for risecount)
    since: float = 0.0  # when the state last changed
    last_check: float | None = None
    reason: str = "not checked yet"
    maintenance: bool = False
    latency: float | None = None  # seconds the last check took (for the status page)

    @property
    def up(self) -> bool:
        return self.state is State.UP


@dataclass(frozen=True, slots=True)
class Policy:
    failurecount: int = 1  # consecutive failures that take a real down
    risecount: int = 1  # consecutive successes that bring it back (1 = the reference)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one probe of a real said: its check's verdict, or that the real is in maintenance
    (a forced down, not checked at all). The prober makes it; ``observe`` reads it."""

    ok: bool
    reason: str
    elapsed: float
    maintenance: bool = False
    # The service's own check ran (not checktype=N's connect half, nor a stand-in connect):
    # the monitorfile then carries its reply, as the reference's does (notify/monitor.py).
    negotiated: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    health: RealHealth
    changed: bool  # the real went up or down
    soft_failure: int = 0  # n of "failure n/m" when a failure was absorbed
    reset_failures: bool = False  # "Resetting soft failure count" (a success after soft failures)


def adopted() -> RealHealth:
    """A real the kernel already serves (weight > 0) at start: trusted until checked."""
    return RealHealth(state=State.UP, reason="adopted from the kernel table")


def observe(health: RealHealth, seen: ProbeResult, at: float, policy: Policy) -> Outcome:
    """``health`` after the probe result ``seen`` arrived at ``at``."""
    latency = None if seen.maintenance else seen.elapsed  # a real in maintenance is not checked
    checked = replace(health, last_check=at, reason=seen.reason, maintenance=seen.maintenance,
                      latency=latency)  # fmt: skip
    if seen.maintenance:
        # Maintenance is a forced transition: it ignores failurecount (spec 3.7).
        return _go(checked, State.DOWN, at, health.state is not State.DOWN)
    if seen.ok:
        return _observe_success(health, checked, at, policy)
    return _observe_failure(health, checked, at, policy)


def _observe_success(
    before: RealHealth, health: RealHealth, at: float, policy: Policy
) -> Outcome:
    if before.state is State.UP:
        return Outcome(replace(health, failures=0), False, reset_failures=before.failures > 0)
    successes = before.successes + 1
    # A never-checked real comes up on its first good check, as at the reference's first pass.
    if before.state is State.UNKNOWN or successes >= policy.risecount:
        return _go(health, State.UP, at, True)
    return Outcome(replace(health, successes=successes), False)


def _observe_failure(
    before: RealHealth, health: RealHealth, at: float, policy: Policy
) -> Outcome:
    if before.state is not State.UP:
        # Failures while down are not counted; a never-checked real is simply down.
        return _go(health, State.DOWN, at, before.state is State.UNKNOWN)
    failures = before.failures + 1
    if failures < policy.failurecount:
        return Outcome(replace(health, failures=failures), False, soft_failure=failures)
    return _go(replace(health, failures=failures), State.DOWN, at, True)


def _go(health: RealHealth, state: State, at: float, changed: bool) -> Outcome:
    if not changed:
        return Outcome(replace(health, state=state, successes=0), False)
    failures = health.failures if state is State.DOWN else 0
    moved = replace(health, state=state, since=at, successes=0, failures=failures)
    return Outcome(moved, True)
