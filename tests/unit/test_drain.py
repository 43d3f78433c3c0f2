"""Graceful drain (drain=N with quiescent=no): a failed real first goes to weight 0 and is
removed once the kernel counts no established connection to it, or N seconds after it failed."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_address

from pyldirectord.config.model import Config, Globals, Real, Virtual, effective_drain
from pyldirectord.core.desired import desired_table, health_key
from pyldirectord.core.health import RealHealth, State
from pyldirectord.core.ipvsops import DeleteDest, EditDest
from pyldirectord.core.reconcile import diff
from pyldirectord.core.table import AddressKey, Dest, DestKey, Forwarding, IpvsTable, Protocol

WEB = Virtual(
    line=1, family=4, protocol="tcp", host="192.0.2.10", port=80, scheduler="rr",
    reals=(Real(line=2, host="10.0.0.1", port=80, forward="masq", weight=3),),
)  # fmt: skip
KEY = AddressKey(Protocol.TCP, ip_address("192.0.2.10"), 80)
REAL = DestKey(ip_address("10.0.0.1"), 80)
FAILED_AT = 100.0
DOWN = RealHealth(state=State.DOWN, since=FAILED_AT)


def kernel(weight: int, active: int) -> IpvsTable:
    service = desired_table(config(drain=30), {health_key(WEB, WEB.reals[0]): RealHealth(
        state=State.UP)}, IpvsTable()).services[KEY]  # fmt: skip
    return IpvsTable({KEY: service}, {KEY: {REAL: Dest(REAL, Forwarding.MASQ, weight,
                                                          active=active)}})  # fmt: skip


def config(virtual: Virtual = WEB, **globals_: object) -> Config:
    return Config(path="d.cf", globals=Globals(**globals_), virtuals=(virtual,))  # type: ignore[arg-type]


def ops(actual: IpvsTable, now: float | None, **globals_: object) -> list[str]:
    want = desired_table(config(WEB, **globals_), {health_key(WEB, WEB.reals[0]): DOWN}, actual,
                         now=now)  # fmt: skip
    return [type(op).__name__ + f" w{getattr(getattr(op, 'dest', None), 'weight', '-')}"
            for op in diff(actual, want, {KEY})]  # fmt: skip


def test_a_failed_real_with_connections_goes_to_weight_0_first() -> None:
    assert ops(kernel(3, active=5), now=FAILED_AT + 1, drain=30) == ["EditDest w0"]


def test_it_stays_at_weight_0_while_connections_last_within_the_bound() -> None:
    assert ops(kernel(0, active=5), now=FAILED_AT + 29, drain=30) == []


def test_it_is_removed_when_its_connections_end_or_the_bound_passes() -> None:
    assert ops(kernel(0, active=0), now=FAILED_AT + 2, drain=30) == ["DeleteDest w-"]
    assert ops(kernel(0, active=5), now=FAILED_AT + 30, drain=30) == ["DeleteDest w-"]


def test_without_drain_or_without_a_clock_the_reference_removes_it_at_once() -> None:
    assert ops(kernel(3, active=5), now=FAILED_AT + 1) == ["DeleteDest w-"]
    assert ops(kernel(3, active=5), now=None, drain=30) == ["DeleteDest w-"]  # --plan


def test_a_real_gone_from_the_kernel_is_not_put_back_to_drain() -> None:
    assert ops(IpvsTable({KEY: kernel(0, 0).services[KEY]}, {KEY: {}}), now=FAILED_AT + 1,
               drain=30) == []  # fmt: skip


def test_drain_applies_to_quiescent_no_only_and_per_virtual_wins() -> None:
    assert effective_drain(WEB, Globals(drain=30)) == 30
    assert effective_drain(replace(WEB, drain=5), Globals(drain=30)) == 5
    assert effective_drain(WEB, Globals(drain=30, quiescent=True)) == 0
    assert effective_drain(WEB, Globals()) == 0


def test_the_active_count_is_not_part_of_a_dests_equality() -> None:
    assert Dest(REAL, Forwarding.MASQ, 3, active=7) == Dest(REAL, Forwarding.MASQ, 3)
    assert not [op for op in diff(kernel(3, 9), kernel(3, 0), {KEY})
                if isinstance(op, EditDest | DeleteDest)]  # fmt: skip
