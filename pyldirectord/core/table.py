"""The IPVS table model: virtual services, their reals, and the kernel's port rules.

Pure data. A table is always in the form the kernel reports it (ports normalised as ipvsadm
and the kernel store them, netmasks in canonical text), so comparing the table we want with
the table we read is an exact equality when nothing needs to change.
"""

from __future__ import annotations

import enum
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv6Address, ip_address
from types import MappingProxyType
from typing import TypeVar

IPAddress = IPv4Address | IPv6Address
K = TypeVar("K")
V = TypeVar("V")


class Family(enum.IntEnum):
    INET = socket.AF_INET
    INET6 = socket.AF_INET6


class Protocol(enum.IntEnum):
    TCP = socket.IPPROTO_TCP
    UDP = socket.IPPROTO_UDP
    SCTP = socket.IPPROTO_SCTP

    @property
    def ipvsadm_flag(self) -> str:
        return {Protocol.TCP: "-t", Protocol.UDP: "-u", Protocol.SCTP: "--sctp-service"}[self]

    @classmethod
    def named(cls, name: str) -> Protocol:
        """`tcp`, `udp` or `sctp`, as ldirectord.cf and ipvsadm spell them."""
        return cls[name.upper()]


class Forwarding(enum.IntEnum):
    """Packet-forwarding method; values are the kernel's IP_VS_CONN_F_* codes."""

    MASQ = 0
    LOCAL = 1  # the kernel's LOCALNODE: old kernels report it for a local real
    IPIP = 2
    GATE = 3

    @property
    def ipvsadm_flag(self) -> str:
        # ipvsadm has no flag for "local": the kernel decides it, -g is what one would type.
        return {Forwarding.MASQ: "-m", Forwarding.IPIP: "-i"}.get(self, "-g")

    @classmethod
    def named(cls, name: str) -> Forwarding:
        """ldirectord's names `gate`, `masq`, `ipip` (and `local`)."""
        return cls[name.upper()]


# ipvsadm -b names. The sh and mh schedulers give flag-1 and flag-2 their own names.
SCHED_FLAGS = ("flag-1", "flag-2", "flag-3")
_SCHED_FLAG_ALIASES = {
    "sh-fallback": "flag-1",
    "sh-port": "flag-2",
    "mh-fallback": "flag-1",
    "mh-port": "flag-2",
}


def sched_flags(names: Iterable[str]) -> frozenset[str]:
    """Canonical set of scheduler flags from ipvsadm `-b` names (aliases accepted)."""
    result = set()
    for name in names:
        canonical = _SCHED_FLAG_ALIASES.get(name.strip().lower(), name.strip().lower())
        if canonical not in SCHED_FLAGS:
            raise ValueError(f"unknown scheduler flag {name!r}")
        result.add(canonical)
    return frozenset(result)


def sched_flag_names(scheduler: str, flags: frozenset[str]) -> list[str]:
    """The names ipvsadm prints for `flags` under `scheduler` (e.g. `sh-port`), in order."""
    names = []
    for flag in SCHED_FLAGS:
        if flag not in flags:
            continue
        alias = [a for a, f in _SCHED_FLAG_ALIASES.items() if f == flag and a[:2] == scheduler]
        names.append(alias[0] if alias else flag)
    return names


def _address(value: IPAddress | str) -> IPAddress:
    return value if isinstance(value, IPv4Address | IPv6Address) else ip_address(value)


def _family(address: IPAddress) -> Family:
    return Family.INET if address.version == 4 else Family.INET6


def _endpoint(address: IPAddress, port: int) -> str:
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


def _check_port(port: int) -> None:
    if not 0 <= port <= 0xFFFF:
        raise ValueError(f"port {port} out of range 0-65535")


@dataclass(frozen=True, slots=True, order=True)
class AddressKey:
    """A tcp/udp/sctp virtual service: protocol + virtual address + port."""

    protocol: Protocol
    address: IPAddress
    port: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", _address(self.address))
        object.__setattr__(self, "protocol", Protocol(self.protocol))
        _check_port(self.port)

    @property
    def family(self) -> Family:
        return _family(self.address)

    def __str__(self) -> str:
        return f"{self.protocol.ipvsadm_flag} {_endpoint(self.address, self.port)}"


@dataclass(frozen=True, slots=True, order=True)
class FwmarkKey:
    """A firewall-mark virtual service; IPv4 and IPv6 marks are distinct services."""

    family: Family
    fwmark: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "family", Family(self.family))
        if not 0 < self.fwmark <= 0xFFFFFFFF:
            raise ValueError(f"fwmark {self.fwmark} out of range 1-4294967295")

    def __str__(self) -> str:
        return f"-f {self.fwmark}" + (" -6" if self.family is Family.INET6 else "")


ServiceKey = AddressKey | FwmarkKey


def service_sort_key(key: ServiceKey) -> tuple[int, int, int, int, int]:
    """A total order over both kinds of key, so op lists are deterministic."""
    if isinstance(key, FwmarkKey):
        return (1, key.family, key.fwmark, 0, 0)
    return (0, key.family, key.protocol, int(key.address), key.port)


@dataclass(frozen=True, slots=True, order=True)
class DestKey:
    """A real server of one virtual service: address + port."""

    address: IPAddress
    port: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", _address(self.address))
        _check_port(self.port)

    @property
    def family(self) -> Family:
        return _family(self.address)

    def __str__(self) -> str:
        return _endpoint(self.address, self.port)


def dest_sort_key(key: DestKey) -> tuple[int, int, int]:
    return (key.address.version, int(key.address), key.port)


def default_netmask(family: Family) -> str:
    return "255.255.255.255" if family is Family.INET else "128"


def _normal_netmask(family: Family, netmask: str) -> str:
    """ipvsadm's text: a dotted mask for IPv4, a prefix length for IPv6."""
    if not netmask:
        return default_netmask(family)
    if family is Family.INET:
        return str(IPv4Address(netmask))
    bits = int(netmask)
    if not 1 <= bits <= 128:
        raise ValueError(f"IPv6 netmask (prefix length) {bits} out of range 1-128")
    return str(bits)


@dataclass(frozen=True, slots=True)
class Service:
    """What `ipvsadm -A/-E` sets: everything about a virtual service except its reals."""

    key: ServiceKey
    scheduler: str = "wlc"
    persistent: int | None = None  # persistence timeout in seconds; None: not persistent
    netmask: str = ""  # persistence granularity; "" means the family's host mask
    ops: bool = False  # one-packet scheduling (udp)
    sched_flags: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "netmask", _normal_netmask(self.key.family, self.netmask))
        object.__setattr__(self, "sched_flags", sched_flags(self.sched_flags))
        if self.persistent is not None and not 0 < self.persistent <= 0xFFFFFFFF:
            raise ValueError(f"persistence timeout {self.persistent} must be positive")

    def ipvsadm_args(self) -> str:
        """The service part of `ipvsadm -A`, in ipvsadm -S order."""
        parts = [str(self.key), "-s", self.scheduler]
        if self.persistent is not None:
            parts += ["-p", str(self.persistent)]
            if self.netmask != default_netmask(self.key.family):
                parts += ["-M", self.netmask]
        if self.ops:
            parts.append("-o")
        if self.sched_flags:
            parts += ["-b", ",".join(sched_flag_names(self.scheduler, self.sched_flags))]
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Dest:
    """A real server as `ipvsadm -a/-e` sets it."""

    key: DestKey
    forwarding: Forwarding = Forwarding.GATE
    weight: int = 1
    u_threshold: int = 0  # 0: no upper connection limit
    l_threshold: int = 0
    # Read from the kernel, never set: its established connections (for the drain). Not part
    # of equality, so a table we want still equals the kernel's whatever its traffic.
    active: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "forwarding", Forwarding(self.forwarding))
        for name in ("weight", "u_threshold", "l_threshold"):
            value = getattr(self, name)
            if not 0 <= value <= 0x7FFFFFFF:
                raise ValueError(f"{name} {value} out of range 0-2147483647")

    def ipvsadm_args(self) -> str:
        """The real part of `ipvsadm -a`: `-r ADDR:PORT -g -w 1 [-x U -y L]`."""
        text = f"-r {self.key} {self.forwarding.ipvsadm_flag} -w {self.weight}"
        if self.u_threshold or self.l_threshold:
            text += f" -x {self.u_threshold} -y {self.l_threshold}"
        return text


def normal_dest(service: ServiceKey, dest: Dest) -> Dest:
    """The real as the kernel will hold it.

    ipvsadm forces a gate/ipip real's port to the virtual port of a tcp/udp/sctp service (the
    packet keeps its destination port on those methods); mirror it so diffs stay empty. A
    fwmark service has no port, so its reals keep theirs (0 when none was configured).
    """
    if not isinstance(service, AddressKey) or dest.key.port == service.port:
        return dest
    if dest.forwarding in (Forwarding.GATE, Forwarding.IPIP):
        return replace(dest, key=DestKey(dest.key.address, service.port))
    return dest


def _frozen(mapping: Mapping[K, V]) -> Mapping[K, V]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class IpvsTable:
    """Virtual services and their reals, as the kernel holds (or should hold) them.

    The constructor takes entries as they are (a table read from the kernel may hold what
    another tool put there); `IpvsTable.of` builds a table we want, with the kernel's rules.
    """

    services: Mapping[ServiceKey, Service] = field(default_factory=dict)
    dests: Mapping[ServiceKey, Mapping[DestKey, Dest]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, service in self.services.items():
            if service.key != key:
                raise ValueError(f"service {service.key} filed under {key}")
        dests = {key: self._checked_dests(key, self.dests.get(key, {})) for key in self.services}
        extra = set(self.dests) - set(self.services)
        if extra:
            first = min(extra, key=service_sort_key)
            raise ValueError(f"reals for unknown virtual service {first}")
        object.__setattr__(self, "services", _frozen(self.services))
        object.__setattr__(self, "dests", _frozen(dests))

    @staticmethod
    def _checked_dests(
        service: ServiceKey, dests: Mapping[DestKey, Dest]
    ) -> Mapping[DestKey, Dest]:
        for key, dest in dests.items():
            if dest.key != key:
                raise ValueError(f"real {dest.key} filed under {key}")
        return _frozen(dests)

    @classmethod
    def of(cls, entries: Iterable[tuple[Service, Iterable[Dest]]]) -> IpvsTable:
        """Build a table, normalising real ports; two reals that become one are an error."""
        services: dict[ServiceKey, Service] = {}
        dests: dict[ServiceKey, dict[DestKey, Dest]] = {}
        for service, reals in entries:
            if service.key in services:
                raise ValueError(f"duplicate virtual service {service.key}")
            services[service.key] = service
            table = dests[service.key] = {}
            for real in reals:
                dest = normal_dest(service.key, real)
                if dest.key in table:
                    raise ValueError(f"duplicate real {dest.key} in {service.key}")
                table[dest.key] = dest
        return cls(services, dests)

    def reals(self, key: ServiceKey) -> Mapping[DestKey, Dest]:
        return self.dests.get(key, MappingProxyType({}))

    def only(self, keys: Iterable[ServiceKey]) -> IpvsTable:
        """The part of this table that belongs to `keys`."""
        wanted = set(keys)
        return IpvsTable(
            {k: s for k, s in self.services.items() if k in wanted},
            {k: d for k, d in self.dests.items() if k in wanted},
        )
