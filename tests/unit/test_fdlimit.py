"""The open-files arithmetic: raise the soft limit as far as the checks need, cap the checks
in flight by what the hard limit allows, refuse only when almost nothing fits."""

from __future__ import annotations

import resource

import pytest

from pyldirectord.runtime.fdlimit import FDS_PER_CHECK, RESERVE, FdLimitError, Limits, plan_limits


def test_soft_limit_is_raised_as_far_as_the_wanted_checks_need() -> None:
    needed = RESERVE + 1000 * FDS_PER_CHECK
    assert plan_limits(1024, 1_048_576, 1000) == Limits(needed, 1000, False)
    assert plan_limits(1024, resource.RLIM_INFINITY, 1000) == Limits(needed, 1000, False)


def test_a_higher_soft_limit_is_never_lowered() -> None:
    assert plan_limits(65536, 65536, 1000) == Limits(65536, 1000, False)
    unlimited = resource.RLIM_INFINITY
    assert plan_limits(unlimited, unlimited, 1000) == Limits(unlimited, 1000, False)


def test_a_low_hard_limit_caps_the_checks_in_flight() -> None:
    limits = plan_limits(256, 256, 1000)
    assert limits == Limits(256, (256 - RESERVE) // FDS_PER_CHECK, True)
    assert RESERVE + limits.concurrency * FDS_PER_CHECK <= 256


def test_soft_limit_is_raised_to_the_hard_one_when_that_is_all_there_is() -> None:
    assert plan_limits(256, 1024, 1000) == Limits(1024, (1024 - RESERVE) // FDS_PER_CHECK, True)


def test_too_low_to_run_checks_is_refused_with_what_to_raise() -> None:
    with pytest.raises(FdLimitError, match=r"hard limit \(ulimit -Hn\) is 64.*LimitNOFILE="):
        plan_limits(64, 64, 1000)
