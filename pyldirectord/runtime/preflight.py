"""Preflight: host settings that let a valid config fail quietly on this machine.

``warnings(config, facts)`` is pure: it decides from a ``HostFacts`` value; ``read_facts()`` is
the thin reader of /proc, /sys and the process's limits. Both ``--check-config`` and the
daemon's start use them; each warning says what to change. None is an error: the host may be
set up after the config is written (docs/observability.md, "Preflight").
"""

from __future__ import annotations

import ipaddress
import math
import re
import resource
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from pyldirectord.config.model import Config, Diagnostic, effective_quiescent
from pyldirectord.core.checkplan import check_plans

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CONCURRENCY = 1000  # checks in flight at most (director.Director's default)
FDS_PER_CHECK = 2  # a check's socket, and a connection the HTTP pool or a pipe may hold
FDS_OWN = 64  # the director's own: log, netlink, listener, watches, state file
CONNECTIONS_PER_REAL = 1024  # expected connections of a real without a u: threshold
CHAIN_LIMIT = 16  # average IPVS hash chain length beyond which lookups get slow
CHAIN_TARGET = 4  # the chain length the advice aims at
CONN_TAB_BITS_MAX = 20  # the kernel's upper bound for ip_vs conn_tab_bits
CAP_NET_ADMIN = 12


@dataclass(frozen=True, slots=True)
class OnLink:
    """A route without a gateway: reals in ``network`` are neighbours on ``link``."""

    network: IPNetwork
    link: str


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What the warnings depend on; None: not known (file absent or unreadable)."""

    conn_tab_size: int | None = None  # IPVS connection hash buckets (2 ** conn_tab_bits)
    ip_forward: int | None = None
    ipv6_forwarding: int | None = None
    expire_quiescent_template: int | None = None
    cap_net_admin: bool | None = None
    nofile: int | None = None  # RLIMIT_NOFILE soft limit
    gc_thresh3: int | None = None
    gc_thresh3_v6: int | None = None
    on_link: tuple[OnLink, ...] | None = None


def warnings(config: Config, facts: HostFacts) -> list[Diagnostic]:
    return [*_persistence(config, facts), *_forwarding(config, facts),
            *_capability(config, facts), *_descriptors(config, facts),
            *_connection_table(config, facts), *_neighbours(config, facts)]  # fmt: skip


def _persistence(config: Config, facts: HostFacts) -> Iterable[Diagnostic]:
    for virtual in config.virtuals:
        if (virtual.persistent is not None and effective_quiescent(virtual, config.globals)
                and not facts.expire_quiescent_template):  # fmt: skip
            yield Diagnostic(
                config.path, virtual.line, "quiescent=yes with persistence: clients keep their "
                "persistence template to a weight-0 real while "
                "net.ipv4.vs.expire_quiescent_template is 0 (or IPVS is not loaded)",
                hint="sysctl -w net.ipv4.vs.expire_quiescent_template=1")  # fmt: skip


def _forwarding(config: Config, facts: HostFacts) -> Iterable[Diagnostic]:
    for family, setting, value in ((4, "net.ipv4.ip_forward", facts.ip_forward),
                                   (6, "net.ipv6.conf.all.forwarding", facts.ipv6_forwarding)):
        masq = [real for virtual in config.virtuals if virtual.family == family
                for real in virtual.reals if real.forward == "masq"]  # fmt: skip
        if masq and value == 0:
            what = "masq forwarding" if family == 4 else "masq forwarding of IPv6 reals"
            yield Diagnostic(config.path, masq[0].line, f"{what} needs routing, but {setting} "
                             "is 0", hint=f"sysctl -w {setting}=1")  # fmt: skip


def _capability(config: Config, facts: HostFacts) -> Iterable[Diagnostic]:
    if facts.cap_net_admin is False and config.virtuals:
        yield Diagnostic(config.path, 0, "this process lacks CAP_NET_ADMIN: the kernel refuses "
                         "every IPVS change it would make", hint="run it as root, or give the "
                         "service AmbientCapabilities=CAP_NET_ADMIN")  # fmt: skip


def _descriptors(config: Config, facts: HostFacts) -> Iterable[Diagnostic]:
    if facts.nofile is None:
        return
    in_flight = min(len(check_plans(config)), CONCURRENCY)
    needed = FDS_PER_CHECK * in_flight + FDS_OWN
    if facts.nofile < needed:
        yield Diagnostic(config.path, 0, f"the open-file limit (RLIMIT_NOFILE) is "
                         f"{facts.nofile}, but up to {in_flight} checks run at once and need "
                         f"about {needed} descriptors: checks would fail with EMFILE",
                         hint=f"LimitNOFILE={needed} in the systemd unit, or ulimit -n "
                         f"{needed} before start")  # fmt: skip


def expected_connections(config: Config) -> int:
    """Each real's u: threshold, or CONNECTIONS_PER_REAL when it has none."""
    return sum(real.upper or CONNECTIONS_PER_REAL
               for virtual in config.virtuals for real in virtual.reals)  # fmt: skip


def advised_bits(connections: int) -> int:
    buckets = max(1, connections // CHAIN_TARGET)
    return min(CONN_TAB_BITS_MAX, max(8, math.ceil(math.log2(buckets))))


def _connection_table(config: Config, facts: HostFacts) -> Iterable[Diagnostic]:
    size = facts.conn_tab_size
    connections = expected_connections(config)
    if size is None or connections <= CHAIN_LIMIT * size:
        return
    bits = advised_bits(connections)
    if 2**bits <= size:
        return  # already at the kernel's largest table
    yield Diagnostic(config.path, 0, f"the IPVS connection table has {size} buckets for about "
                     f"{connections} connections ({CONNECTIONS_PER_REAL} per real without a u: "
                     f"threshold): each packet's lookup walks chains of ~{connections // size}",
                     hint=f"options ip_vs conn_tab_bits={bits} in /etc/modprobe.d/ip_vs.conf, "
                     "then reload the ip_vs module")  # fmt: skip


def _addresses(config: Config) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    found = set()
    for virtual in config.virtuals:
        for real in virtual.reals:
            try:
                found.add(ipaddress.ip_address(real.host))
            except ValueError:
                continue  # not resolved yet (a name): nothing to count
    return found


def _link_of(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
             routes: tuple[OnLink, ...]) -> str | None:  # fmt: skip
    best: OnLink | None = None
    for route in routes:
        if route.network.version == address.version and address in route.network and (
                best is None or route.network.prefixlen > best.network.prefixlen):  # fmt: skip
            best = route
    return best.link if best is not None else None


def _neighbours(config: Config, facts: HostFacts) -> Iterable[Diagnostic]:
    addresses = _addresses(config)
    if facts.on_link is None:  # no routes known: the whole farm may share one link
        reals = len({real.host for virtual in config.virtuals for real in virtual.reals})
        if facts.gc_thresh3 is not None and reals > facts.gc_thresh3:
            yield Diagnostic(config.path, 0, f"{reals} real servers exceed the neighbour table "
                             f"(net.ipv4.neigh.default.gc_thresh3 = {facts.gc_thresh3}) if they "
                             "share a link", hint="raise net.ipv4.neigh.default.gc_thresh1/2/3")
        return
    per_link: Counter[tuple[int, str]] = Counter()
    for address in addresses:
        link = _link_of(address, facts.on_link)
        if link is not None:
            per_link[(address.version, link)] += 1
    for (version, link), count in sorted(per_link.items()):
        limit = facts.gc_thresh3 if version == 4 else facts.gc_thresh3_v6
        if limit is not None and count > limit:
            setting = f"net.ipv{version}.neigh.default.gc_thresh"
            yield Diagnostic(config.path, 0, f"{count} IPv{version} real servers are neighbours "
                             f"on {link}, more than the neighbour table holds ({setting}3 = "
                             f"{limit}): entries are evicted and checks fail at random",
                             hint=f"raise {setting}1/2/3, e.g. {setting}3={2 * count}")


def log_line(warning: Diagnostic) -> str:
    """How the daemon logs a warning at start (``--check-config`` prints FILE:LINE: ...)."""
    where = f" (line {warning.line})" if warning.line else ""
    hint = f"; {warning.hint}" if warning.hint else ""
    return f"Preflight warning{where}: {warning.message}{hint}"


# --- the reader ------------------------------------------------------------------------------

IPVS_PROC = "/proc/net/ip_vs"
PROC_SYS = "/proc/sys/net"
RTF_GATEWAY = 0x0002
RTF_REJECT = 0x0200  # unreachable/prohibit/blackhole: no neighbours there
RTF_LOCAL = 0x80000000  # IPv6: the host's own addresses (the local table)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as stream:
            return stream.read()
    except OSError:
        return None


def _read_int(path: str) -> int | None:
    text = _read(path)
    try:
        return int(text.split()[0]) if text else None
    except (ValueError, IndexError):
        return None


def conn_tab_size(text: str | None) -> int | None:
    """From /proc/net/ip_vs's first line: ``IP Virtual Server version 1.2.1 (size=4096)``."""
    match = re.search(r"\(size=(\d+)\)", text or "")
    return int(match.group(1)) if match else None


def cap_net_admin(status: str | None) -> bool | None:
    match = re.search(r"^CapEff:\s*([0-9a-fA-F]+)$", status or "", re.MULTILINE)
    return bool(int(match.group(1), 16) >> CAP_NET_ADMIN & 1) if match else None


def on_link_v4(text: str) -> list[OnLink]:
    """/proc/net/route: Iface Destination Gateway Flags ... Mask (little-endian hex)."""
    routes = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8 or int(fields[3], 16) & (RTF_GATEWAY | RTF_REJECT) or fields[0] == "lo":
            continue
        destination = ipaddress.IPv4Address(bytes.fromhex(fields[1])[::-1])
        mask = ipaddress.IPv4Address(bytes.fromhex(fields[7])[::-1])
        network = ipaddress.IPv4Network(f"{destination}/{mask}", strict=False)
        routes.append(OnLink(network, fields[0]))
    return routes


def on_link_v6(text: str) -> list[OnLink]:
    """/proc/net/ipv6_route (every table): dest plen src plen nexthop metric refcnt use flags
    device. The local table's entries (own addresses, multicast) are not links to reals."""
    routes = []
    for line in text.splitlines():
        fields = line.split()
        skip = RTF_GATEWAY | RTF_REJECT | RTF_LOCAL
        if len(fields) < 10 or int(fields[8], 16) & skip or fields[9] == "lo":
            continue
        destination = ipaddress.IPv6Address(bytes.fromhex(fields[0]))
        network = ipaddress.IPv6Network(f"{destination}/{int(fields[1], 16)}", strict=False)
        if network.is_multicast:  # the local table's ff00::/8: no real lives there
            continue
        routes.append(OnLink(network, fields[9]))
    return routes


def _nofile() -> int | None:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def read_facts() -> HostFacts:
    routes4, routes6 = _read("/proc/net/route"), _read("/proc/net/ipv6_route")
    on_link = None
    if routes4 is not None or routes6 is not None:
        on_link = (*on_link_v4(routes4 or ""), *on_link_v6(routes6 or ""))
    return HostFacts(
        conn_tab_size=conn_tab_size(_read(IPVS_PROC)),
        ip_forward=_read_int(f"{PROC_SYS}/ipv4/ip_forward"),
        ipv6_forwarding=_read_int(f"{PROC_SYS}/ipv6/conf/all/forwarding"),
        expire_quiescent_template=_read_int(f"{PROC_SYS}/ipv4/vs/expire_quiescent_template"),
        cap_net_admin=cap_net_admin(_read("/proc/self/status")),
        nofile=_nofile(),
        gc_thresh3=_read_int(f"{PROC_SYS}/ipv4/neigh/default/gc_thresh3"),
        gc_thresh3_v6=_read_int(f"{PROC_SYS}/ipv6/neigh/default/gc_thresh3"),
        on_link=on_link,
    )
