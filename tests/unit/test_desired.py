"""Config + health -> the table we want, checked against the reference's end states."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_address

from pyldirectord.config.model import Config, Fallback, Globals, Real, Virtual
from pyldirectord.core.desired import desired_table, health_key, ipvs_service, owned_services
from pyldirectord.core.health import RealHealth, State
from pyldirectord.core.ipvsops import AddDest, DeleteDest, EditDest
from pyldirectord.core.reconcile import diff
from pyldirectord.core.table import (
    AddressKey,
    Dest,
    DestKey,
    Family,
    Forwarding,
    FwmarkKey,
    IpvsTable,
    Protocol,
)

WEB = Virtual(
    line=1, family=4, protocol="tcp", host="192.0.2.10", port=80,
    reals=(
        Real(line=2, host="10.0.0.1", port=80, forward="masq", weight=3, lower=2, upper=9),
        Real(line=3, host="10.0.0.2", port=8080, forward="gate"),
    ),
    scheduler="rr", fallback=Fallback(line=4, host="127.0.0.1", port=None),
)  # fmt: skip
KEY = AddressKey(Protocol.TCP, ip_address("192.0.2.10"), 80)
EMPTY = IpvsTable()
UP = RealHealth(state=State.UP)
DOWN = RealHealth(state=State.DOWN)


def config(virtual: Virtual = WEB, **globals_: bool) -> Config:
    return Config(path="t.cf", globals=Globals(**globals_), virtuals=(virtual,))  # type: ignore[arg-type]


def health(*states: RealHealth, virtual: Virtual = WEB) -> dict[tuple[str, str], RealHealth]:
    return {health_key(virtual, r): s for r, s in zip(virtual.reals, states, strict=True)}


def reals(table: IpvsTable) -> dict[str, tuple[int, int, int, str]]:
    return {
        str(k): (d.weight, d.u_threshold, d.l_threshold, d.forwarding.name)
        for k, d in table.reals(KEY).items()
    }


def test_up_reals_have_their_weight_and_thresholds_and_gate_takes_the_virtual_port() -> None:
    table = desired_table(config(), health(UP, UP), EMPTY)
    assert reals(table) == {"10.0.0.1:80": (3, 9, 2, "MASQ"), "10.0.0.2:80": (1, 0, 0, "GATE")}


def test_not_checked_yet_is_quiesced_with_quiescent_yes_and_absent_without() -> None:
    quiet = desired_table(config(quiescent=True), {}, EMPTY)
    assert reals(quiet) == {"10.0.0.1:80": (0, 0, 0, "MASQ"), "10.0.0.2:80": (0, 0, 0, "GATE"),
                            "127.0.0.1:80": (1, 0, 0, "GATE")}  # fmt: skip
    assert reals(desired_table(config(), {}, EMPTY)) == {"127.0.0.1:80": (1, 0, 0, "GATE")}


def test_fallback_is_present_exactly_when_no_real_is_up() -> None:
    assert "127.0.0.1:80" not in reals(desired_table(config(), health(UP, DOWN), EMPTY))
    assert "127.0.0.1:80" in reals(desired_table(config(), health(DOWN, DOWN), EMPTY))


def test_a_down_real_deleted_behind_our_back_is_readded_only_with_readdquiescent() -> None:
    kernel = IpvsTable.of([(ipvs_service(WEB), [])])
    assert reals(desired_table(config(quiescent=True), health(DOWN, UP), kernel)) == {
        "10.0.0.2:80": (1, 0, 0, "GATE")
    }
    readd = desired_table(config(quiescent=True, readdquiescent=True), health(DOWN, UP), kernel)
    assert reals(readd)["10.0.0.1:80"] == (0, 0, 0, "MASQ")


def test_service_settings_follow_the_virtual() -> None:
    virtual = replace(WEB, persistent=300, netmask="255.255.255.0", protocol="udp", ops=True)
    service = ipvs_service(virtual)
    assert service.ipvsadm_args() == "-u 192.0.2.10:80 -s rr -p 300 -M 255.255.255.0 -o"
    no_persistence = ipvs_service(replace(WEB, netmask="255.255.255.0", ops=True))
    assert no_persistence.ipvsadm_args() == "-t 192.0.2.10:80 -s rr"


def test_fwmark_reals_keep_their_port() -> None:
    real = Real(line=2, host="2001:db8::4", port=0, forward="gate")
    virtual = Virtual(line=1, family=6, protocol="fwm", host=None, port=0, fwmark=7, reals=(real,))
    table = desired_table(config(virtual), health(UP, virtual=virtual), EMPTY)
    assert set(table.services) == owned_services(config(virtual)) == {FwmarkKey(Family.INET6, 7)}
    assert list(table.reals(FwmarkKey(Family.INET6, 7))) == [DestKey(ip_address("2001:db8::4"), 0)]


def test_going_down_is_one_edit_in_place_and_nothing_else() -> None:
    before = desired_table(config(quiescent=True), health(UP, UP), EMPTY)
    after = desired_table(config(quiescent=True), health(DOWN, UP), before)
    assert diff(before, after, owned_services(config())) == [
        EditDest(KEY, Dest(DestKey(ip_address("10.0.0.1"), 80), Forwarding.MASQ, weight=0))
    ]
    removed = desired_table(config(), health(DOWN, DOWN), before)
    assert diff(before, removed, owned_services(config())) == [
        DeleteDest(KEY, DestKey(ip_address("10.0.0.1"), 80)),
        DeleteDest(KEY, DestKey(ip_address("10.0.0.2"), 80)),
        AddDest(KEY, Dest(DestKey(ip_address("127.0.0.1"), 80), Forwarding.GATE, weight=1)),
    ]
