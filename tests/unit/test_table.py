"""The table model holds what the kernel holds: normalised ports, canonical netmasks."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from pyldirectord.core.table import (
    AddressKey,
    Dest,
    DestKey,
    Family,
    Forwarding,
    FwmarkKey,
    IpvsTable,
    Protocol,
    Service,
    normal_dest,
    sched_flag_names,
    sched_flags,
)

WEB = AddressKey(Protocol.TCP, ip_address("10.0.0.1"), 80)
MARK = FwmarkKey(Family.INET, 7)


def real(addr: str, port: int, fwd: Forwarding = Forwarding.GATE, weight: int = 1) -> Dest:
    return Dest(DestKey(ip_address(addr), port), fwd, weight)


@pytest.mark.parametrize("fwd", [Forwarding.GATE, Forwarding.IPIP])
def test_gate_and_ipip_reals_take_the_virtual_port(fwd: Forwarding) -> None:
    assert normal_dest(WEB, real("10.0.0.2", 8080, fwd)).key == DestKey(ip_address("10.0.0.2"), 80)


def test_masq_real_keeps_its_port() -> None:
    assert normal_dest(WEB, real("10.0.0.2", 8080, Forwarding.MASQ)).key.port == 8080


@pytest.mark.parametrize("fwd", list(Forwarding))
def test_fwmark_real_keeps_its_port(fwd: Forwarding) -> None:
    assert normal_dest(MARK, real("10.0.0.2", 81, fwd)).key.port == 81
    assert normal_dest(MARK, real("10.0.0.2", 0, fwd)).key.port == 0


def test_table_of_normalises_and_rejects_reals_that_collapse_into_one() -> None:
    table = IpvsTable.of([(Service(WEB), [real("10.0.0.2", 8080)])])
    assert list(table.reals(WEB)) == [DestKey(ip_address("10.0.0.2"), 80)]
    with pytest.raises(ValueError, match=r"duplicate real 10\.0\.0\.2:80"):
        IpvsTable.of([(Service(WEB), [real("10.0.0.2", 8080), real("10.0.0.2", 8081)])])


def test_constructor_keeps_entries_as_given_and_checks_their_keys() -> None:
    # A table read from the kernel holds whatever another tool put there.
    dest = real("10.0.0.2", 8080)
    assert list(IpvsTable({WEB: Service(WEB)}, {WEB: {dest.key: dest}}).reals(WEB)) == [dest.key]
    with pytest.raises(ValueError, match="filed under"):
        IpvsTable({WEB: Service(WEB)}, {WEB: {DestKey(ip_address("10.0.0.9"), 80): dest}})
    with pytest.raises(ValueError, match="unknown virtual service"):
        IpvsTable({}, {WEB: {}})


def test_table_is_immutable() -> None:
    table = IpvsTable.of([(Service(WEB), [real("10.0.0.2", 80)])])
    with pytest.raises(TypeError):
        table.services[MARK] = Service(MARK)  # type: ignore[index]
    with pytest.raises(AttributeError):
        table.services = {}  # type: ignore[misc]


def test_netmask_defaults_and_canonical_text() -> None:
    assert Service(WEB).netmask == "255.255.255.255"
    assert Service(FwmarkKey(Family.INET6, 7)).netmask == "128"
    assert Service(WEB, netmask="255.255.255.0").netmask == "255.255.255.0"
    with pytest.raises(ValueError):
        Service(FwmarkKey(Family.INET6, 7), netmask="129")


def test_sched_flags_aliases_and_display() -> None:
    assert sched_flags(["sh-fallback", "sh-port"]) == {"flag-1", "flag-2"}
    assert sched_flag_names("sh", frozenset({"flag-1", "flag-2"})) == ["sh-fallback", "sh-port"]
    assert sched_flag_names("mh", frozenset({"flag-1", "flag-3"})) == ["mh-fallback", "flag-3"]
    assert sched_flag_names("rr", frozenset({"flag-2"})) == ["flag-2"]
    with pytest.raises(ValueError):
        sched_flags(["flag-4"])


def test_ipvsadm_text_of_service_and_real() -> None:
    service = Service(AddressKey(Protocol.UDP, ip_address("fd00::1"), 53), "sh", 300, "64",
                      True, sched_flags(["sh-port"]))
    assert service.ipvsadm_args() == "-u [fd00::1]:53 -s sh -p 300 -M 64 -o -b sh-port"
    assert Service(MARK, "rr").ipvsadm_args() == "-f 7 -s rr"
    assert Service(FwmarkKey(Family.INET6, 9)).ipvsadm_args() == "-f 9 -6 -s wlc"
    dest = Dest(DestKey(ip_address("10.0.0.2"), 80), Forwarding.MASQ, 5, 100, 10)
    assert dest.ipvsadm_args() == "-r 10.0.0.2:80 -m -w 5 -x 100 -y 10"
