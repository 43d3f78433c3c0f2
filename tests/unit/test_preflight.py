"""Preflight decisions (pure): host facts in, warnings that say what to change out."""

from __future__ import annotations

import dataclasses
import ipaddress

from pyldirectord.config.model import Config, Diagnostic, Globals, Real, Virtual
from pyldirectord.config.parser import parse
from pyldirectord.runtime.preflight import (
    HostFacts,
    OnLink,
    advised_bits,
    cap_net_admin,
    conn_tab_size,
    on_link_v4,
    on_link_v6,
    warnings,
)

GOOD = HostFacts(conn_tab_size=2**20, ip_forward=1, ipv6_forwarding=1,
                 expire_quiescent_template=1, cap_net_admin=True, nofile=65536,
                 gc_thresh3=1024, gc_thresh3_v6=1024, on_link=())  # fmt: skip


def farm(count: int, forward: str = "gate", six: bool = False, upper: int = 0) -> Config:
    reals = tuple(
        Real(line=3, host=(f"2001:db8::{n + 1:x}" if six else str(ipaddress.ip_address(
            "10.1.0.0") + n + 1)), port=80, forward=forward, upper=upper)  # type: ignore[arg-type]
        for n in range(count)
    )  # fmt: skip
    virtual = Virtual(line=2, family=6 if six else 4, protocol="tcp",
                      host="2001:db8:80::80" if six else "192.0.2.80", port=80, reals=reals,
                      checktype="connect")  # fmt: skip
    return Config(path="f.cf", globals=Globals(), virtuals=(virtual,))


def messages(found: list[Diagnostic]) -> list[str]:
    return [f"{d.line}: {d.message} (hint: {d.hint})" for d in found]


def test_a_well_set_host_gets_no_warning() -> None:
    assert warnings(farm(10, "masq"), GOOD) == []
    assert warnings(farm(10, "masq", six=True), GOOD) == []


def test_forwarding_is_judged_per_family_of_the_masq_reals() -> None:
    v4_off = _with(ip_forward=0)
    assert messages(warnings(farm(2, "masq"), v4_off)) == [
        "3: masq forwarding needs routing, but net.ipv4.ip_forward is 0 "
        "(hint: sysctl -w net.ipv4.ip_forward=1)"]
    assert warnings(farm(2, "masq", six=True), v4_off) == []
    assert warnings(farm(2, "gate"), v4_off) == []
    v6_off = _with(ipv6_forwarding=0)
    assert messages(warnings(farm(2, "masq", six=True), v6_off)) == [
        "3: masq forwarding of IPv6 reals needs routing, but net.ipv6.conf.all.forwarding is 0 "
        "(hint: sysctl -w net.ipv6.conf.all.forwarding=1)"]


def _with(**changes: object) -> HostFacts:
    return dataclasses.replace(GOOD, **changes)  # type: ignore[arg-type]


def test_without_cap_net_admin_every_ipvs_change_is_refused() -> None:
    assert messages(warnings(farm(1), _with(cap_net_admin=False))) == [
        "0: this process lacks CAP_NET_ADMIN: the kernel refuses every IPVS change it would "
        "make (hint: run it as root, or give the service AmbientCapabilities=CAP_NET_ADMIN)"]
    assert warnings(farm(1), _with(cap_net_admin=None)) == []  # unknown: say nothing


def test_the_open_file_limit_must_cover_the_checks_in_flight() -> None:
    assert warnings(farm(400), _with(nofile=1024)) == []  # 2 x 400 + 64 = 864
    assert messages(warnings(farm(600), _with(nofile=1024))) == [
        "0: the open-file limit (RLIMIT_NOFILE) is 1024, but up to 600 checks run at once and "
        "need about 1264 descriptors: checks would fail with EMFILE (hint: LimitNOFILE=1264 in "
        "the systemd unit, or ulimit -n 1264 before start)"]
    # the concurrency bound caps the checks in flight
    assert "up to 1000 checks" in messages(warnings(farm(5000), _with(nofile=1024)))[0]


def test_the_connection_table_against_the_expected_load() -> None:
    default = _with(conn_tab_size=4096)  # the kernel's default, conn_tab_bits=12
    assert warnings(farm(64), default) == []  # 64 x 1024 = 16 per bucket of 4096
    found = messages(warnings(farm(65), default))
    assert found == [
        "0: the IPVS connection table has 4096 buckets for about 66560 connections (1024 per "
        "real without a u: threshold): each packet's lookup walks chains of ~16 (hint: options "
        "ip_vs conn_tab_bits=15 in /etc/modprobe.d/ip_vs.conf, then reload the ip_vs module)"]
    assert warnings(farm(1000, upper=50), default) == []  # u:50 each: 50,000 connections
    assert advised_bits(10) == 8 and advised_bits(10**9) == 20
    assert warnings(farm(20000), _with(conn_tab_size=2**20)) == []  # nothing bigger to advise
    assert warnings(farm(65), _with(conn_tab_size=None)) == []  # ip_vs not loaded
    assert warnings(farm(20000), GOOD) == []


def test_neighbours_are_counted_per_link_by_the_most_specific_on_link_route() -> None:
    routes = (OnLink(ipaddress.ip_network("10.1.0.0/16"), "eth1"),
              OnLink(ipaddress.ip_network("10.1.0.0/24"), "eth2"),
              OnLink(ipaddress.ip_network("2001:db8::/64"), "eth3"))  # fmt: skip
    facts = _with(on_link=routes, gc_thresh3=200, gc_thresh3_v6=100)
    # 10.1.0.1-254 and 10.1.0.255 on eth2 (/24), 10.1.1.x on eth1
    found = messages(warnings(farm(300), facts))
    assert found == [
        "0: 255 IPv4 real servers are neighbours on eth2, more than the neighbour table holds "
        "(net.ipv4.neigh.default.gc_thresh3 = 200): entries are evicted and checks fail at "
        "random (hint: raise net.ipv4.neigh.default.gc_thresh1/2/3, e.g. "
        "net.ipv4.neigh.default.gc_thresh3=510)"]
    assert "101 IPv6 real servers are neighbours on eth3" in messages(
        warnings(farm(101, six=True), facts))[0]
    assert warnings(farm(300), _with(on_link=(), gc_thresh3=200)) == []  # all behind a gateway


def test_persistence_with_quiescent_needs_expire_quiescent_template() -> None:
    config = parse("quiescent=yes\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n"
                   "\tpersistent=60\n\tchecktype=connect\n", "p.cf", hostname="h")  # fmt: skip
    assert [d.line for d in warnings(config, _with(expire_quiescent_template=0))] == [2]
    assert warnings(config, GOOD) == []


def test_the_readers_parse_the_kernel_formats() -> None:
    assert conn_tab_size("IP Virtual Server version 1.2.1 (size=4096)\nProt ...\n") == 4096
    assert conn_tab_size(None) is None
    assert cap_net_admin("Name:\tx\nCapEff:\t000001ffffffffff\n") is True
    assert cap_net_admin("CapEff:\t0000000000000000\n") is False
    assert on_link_v4(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"
        "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\n"
        "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n"
    ) == [OnLink(ipaddress.ip_network("192.0.2.0/24"), "eth0")]
    assert on_link_v6(
        "20010db8000000000000000000000000 40 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0\n"
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "fd000000000000000000000000000001 00000400 00000003 00000000 00000003 eth0\n"
        "00000000000000000000000000000001 80 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000000 00000002 00000000 80200001 lo\n"
    ) == [OnLink(ipaddress.ip_network("2001:db8::/64"), "eth0")]
