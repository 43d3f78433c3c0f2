"""Read the kernel's table through ipvsadm's text, independently of our netlink code.

`ipvsadm -Ln` gives services, forwarding and weights; `--thresholds` the upper and lower
thresholds; `--persistent-conn` the weights again (a cross-check). Sched flags are read as
ipvsadm names them (`sh-port`), so a flag ipvsadm has no name for under a scheduler is
invisible here: tests that compare with ipvsadm avoid those.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from ipaddress import ip_address

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
    ServiceKey,
    sched_flags,
)

SERVICE_LINE = re.compile(
    r"^(?:(?P<proto>TCP|UDP|SCTP)\s+(?P<endpoint>\S+)|FWM\s+(?P<mark>\d+)(?P<v6> IPv6)?)"
    r"\s+(?P<sched>\S+)(?P<rest>.*)$"
)
REAL_LINE = re.compile(r"^  -> (?P<endpoint>\S+)\s+(?P<a>\S+)\s+(?P<b>\S+)\s+\d+\s+\d+\s*$")
FORWARDING = {"Route": Forwarding.GATE, "Masq": Forwarding.MASQ, "Tunnel": Forwarding.IPIP,
              "Local": Forwarding.LOCAL}


def ipvsadm(*args: str) -> str:
    return subprocess.run(["ipvsadm", *args], check=True, capture_output=True, text=True).stdout


def _endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def _service(match: re.Match[str]) -> Service:
    key: ServiceKey
    if match["mark"]:
        key = FwmarkKey(Family.INET6 if match["v6"] else Family.INET, int(match["mark"]))
    else:
        host, port = _endpoint(match["endpoint"])
        key = AddressKey(Protocol.named(match["proto"]), ip_address(host), port)
    rest = match["rest"]
    flags = re.search(r"\(([^)]*)\)", rest)
    persistent = re.search(r"persistent (\d+)", rest)
    mask = re.search(r"mask (\S+)", rest)
    return Service(
        key,
        scheduler=match["sched"],
        persistent=int(persistent[1]) if persistent else None,
        netmask=mask[1] if mask else "",
        ops=bool(re.search(r"\bops\b", rest)),
        sched_flags=sched_flags(flags[1].split(",")) if flags else frozenset(),
    )


@dataclass
class _Listing:
    services: dict[ServiceKey, Service]
    reals: dict[ServiceKey, dict[DestKey, tuple[str, str]]]


def _listing(*args: str) -> _Listing:
    listing = _Listing({}, {})
    current: ServiceKey | None = None
    for line in ipvsadm("-L", "-n", *args).splitlines()[3:]:
        real = REAL_LINE.match(line)
        if real:
            assert current is not None, line
            host, port = _endpoint(real["endpoint"])
            listing.reals[current][DestKey(ip_address(host), port)] = (real["a"], real["b"])
            continue
        service_match = SERVICE_LINE.match(line)
        assert service_match, f"unparsed ipvsadm line: {line!r}"
        service = _service(service_match)
        current = service.key
        listing.services[current] = service
        listing.reals[current] = {}
    return listing


def read_with_ipvsadm(cross_check: bool = True) -> IpvsTable:
    """The kernel's table as ipvsadm shows it, checked across its three listings (or only
    the two that hold it all, `-Ln` and `--thresholds`, when a process costs too much)."""
    plain = _listing()
    thresholds = _listing("--thresholds")
    assert plain.services == thresholds.services
    persistent = _listing("--persistent-conn") if cross_check else None
    assert persistent is None or plain.services == persistent.services
    dests: dict[ServiceKey, dict[DestKey, Dest]] = {}
    for key, reals in plain.reals.items():
        assert reals.keys() == thresholds.reals[key].keys()
        assert persistent is None or reals.keys() == persistent.reals[key].keys()
        dests[key] = {}
        for real, (forward, weight) in reals.items():
            upper, lower = thresholds.reals[key][real]
            assert persistent is None or persistent.reals[key][real][0] == weight
            dests[key][real] = Dest(real, FORWARDING[forward], int(weight), int(upper), int(lower))
    return IpvsTable(plain.services, dests)


def live_weights() -> dict[str, int]:
    """``ip:port`` -> weight of every real, from ONE `ipvsadm -Ln` (a table a running daemon
    changes cannot be compared across the three listings of `read_with_ipvsadm`)."""
    listing = _listing()
    return {str(dest): int(weight) for reals in listing.reals.values()
            for dest, (_forward, weight) in reals.items()}  # fmt: skip
