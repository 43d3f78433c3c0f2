"""The checktype=N sequencer (spec 4.1, verified order)."""

from pyldirectord.checks.combined import Combined, Kind


def run(connects: int, outcomes: list[bool]) -> list[Kind]:
    """The kinds run for a series of check outcomes."""
    state, kinds = Combined(connects), []
    for ok in outcomes:
        kind = state.next_check()
        kinds.append(kind)
        state = state.after(kind, ok)
    return kinds


def test_negotiate_first_then_n_connects() -> None:
    assert run(2, [True] * 7) == [
        "negotiate", "connect", "connect", "negotiate", "connect", "connect", "negotiate",
    ]  # fmt: skip


def test_zero_connects_means_always_negotiate() -> None:
    assert run(0, [True, True, False, True]) == ["negotiate"] * 4


def test_failed_connect_forces_a_negotiate_next() -> None:
    assert run(3, [True, True, False, True, True]) == [
        "negotiate", "connect", "connect", "negotiate", "connect",
    ]  # fmt: skip


def test_failed_negotiate_is_retried_as_negotiate() -> None:
    assert run(1, [False, False, True, True]) == ["negotiate", "negotiate", "negotiate", "connect"]


def test_state_is_an_immutable_value() -> None:
    state = Combined(2)
    state.after("negotiate", True)
    assert state == Combined(2)
