"""The state machine, as tables of check results in and states out."""

from __future__ import annotations

from pyldirectord.core.health import (
    Policy,
    ProbeResult,
    RealHealth,
    State,
    adopted,
    observe,
)


def run(results: str, policy: Policy, start: RealHealth | None = None) -> list[str]:
    """Feed 'u'/'d'/'m' (up, down, maintenance) results; return the state after each."""
    health = start or RealHealth()
    states = []
    for at, code in enumerate(results):
        seen = ProbeResult(ok=code == "u", reason=code, elapsed=0.0, maintenance=code == "m")
        health = observe(health, seen, float(at), policy).health
        states.append(health.state.value[0])
    return states


def test_first_result_decides_a_never_checked_real() -> None:
    assert run("u", Policy(failurecount=3)) == ["u"]
    assert run("d", Policy(failurecount=3)) == ["d"]


def test_failurecount_consecutive_failures_take_a_real_down() -> None:
    assert run("udd", Policy(failurecount=3)) == ["u", "u", "u"]
    assert run("uddd", Policy(failurecount=3)) == ["u", "u", "u", "d"]


def test_a_success_resets_the_soft_failures() -> None:
    assert run("uddudd", Policy(failurecount=3)) == ["u"] * 6


def test_one_success_brings_a_real_back_by_default() -> None:
    assert run("udu", Policy()) == ["u", "d", "u"]


def test_risecount_needs_consecutive_successes() -> None:
    assert run("udududuu", Policy(risecount=2)) == ["u", "d", "d", "d", "d", "d", "d", "u"]


def test_flapping_every_second_check_never_transitions() -> None:
    # decisions.md: a real failing every second request, failurecount=3: zero transitions.
    health, changes = adopted(), 0
    for at in range(20):
        seen = ProbeResult(ok=at % 2 == 0, reason="", elapsed=0.0)
        outcome = observe(health, seen, float(at), Policy(failurecount=3))
        health, changes = outcome.health, changes + outcome.changed
    assert changes == 0 and health.up


def test_maintenance_is_forced_down_regardless_of_failurecount() -> None:
    assert run("umu", Policy(failurecount=5)) == ["u", "d", "u"]


def test_soft_failure_and_reset_are_reported_for_the_log() -> None:
    policy = Policy(failurecount=3)
    first = observe(adopted(), ProbeResult(False, "timeout", 0.0), 1.0, policy)
    assert (first.soft_failure, first.changed, first.health.failures) == (1, False, 1)
    second = observe(first.health, ProbeResult(True, "200 OK", 0.0), 2.0, policy)
    assert second.reset_failures and second.health.failures == 0


def test_transition_records_when_and_why() -> None:
    outcome = observe(adopted(), ProbeResult(False, "connection refused", 0.0), 7.5, Policy())
    assert outcome.changed
    assert outcome.health.state is State.DOWN
    assert (outcome.health.since, outcome.health.reason, outcome.health.last_check) == (
        7.5,
        "connection refused",
        7.5,
    )
