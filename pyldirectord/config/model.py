"""The parsed ldirectord.cf: immutable values, no behaviour beyond derived defaults.

Parsing (``parser.py``) fills these from text; resolution (``resolve.py``) returns a copy in
which every host and port name has been replaced by its numeric form. Derived values that the
reference computes late (``ld_setup``) are functions here, so both the unresolved and the
resolved config answer them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Family = Literal[4, 6]
Protocol = Literal["tcp", "udp", "fwm"]
Forward = Literal["gate", "masq", "ipip"]
CheckType = Literal[
    "connect", "negotiate", "ping", "off", "on", "external", "external-perl", "combined"
]
DaemonStatus = Literal["starting", "running", "stopping", "reloading"]

EMAIL_STATUSES: frozenset[DaemonStatus] = frozenset(
    ("starting", "running", "stopping", "reloading")
)
DEFAULT_LOGFILE = "/var/log/ldirectord.log"
DEFAULT_CHECKINTERVAL = 10
DEFAULT_CHECKTIMEOUT = 5
DEFAULT_NEGOTIATETIMEOUT = 30


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """An error or warning tied to a place in the file (line 0 = no particular line)."""

    file: str
    line: int
    message: str
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class Real:
    """One real server of a virtual (one IPVS destination).

    ``host`` is the text as written until resolution replaces it with the numeric address
    (IPv6 without brackets). ``port`` is 0 when the line gives none (meant for fwmark services).
    """

    line: int
    host: str
    port: int
    forward: Forward
    weight: int = 1
    request: str | None = None  # per-real override, always with its leading "/"
    receive: str | None = None  # set together with request
    lower: int = 0  # l:N, connection lower threshold
    upper: int = 0  # u:N, connection upper threshold
    port_name: str | None = None  # "http" in real=host:http, until resolution
    range_end: str | None = None  # B of real=A->B until resolution expands the range


@dataclass(frozen=True, slots=True)
class Fallback:
    """The server inserted (weight 1) when no real of a virtual is up."""

    line: int
    host: str
    port: int | None  # None: take the virtual's port at use time
    forward: Forward = "gate"
    port_name: str | None = None
    family: Family = 4  # fallback= or fallback6= (a global one has no block to take it from)


@dataclass(frozen=True, slots=True)
class Virtual:
    """One ``virtual=``/``virtual6=`` block (one IPVS service).

    Optional fields are ``None`` when the block does not set them, so that the global value
    (or the reference's default) applies; see the ``effective_*`` functions below.
    """

    line: int
    family: Family
    protocol: Protocol
    host: str | None  # None for a fwmark service
    port: int  # 0 for a fwmark service
    fwmark: int | None = None
    port_name: str | None = None  # "http" in virtual=ip:http, until resolution
    reals: tuple[Real, ...] = ()
    checktype: CheckType = "negotiate"
    combined_connects: int = 0  # N of checktype=N
    service: str | None = None  # None: derived from the port (service_for_port)
    service_line: int = 0  # the service= line; 0 when the service comes from the port
    request: str = "/"
    receive: str = ""
    checkcommand: str = "/bin/true"
    checktimeout: int | None = None
    negotiatetimeout: int | None = None
    checkcount: int | None = None
    failurecount: int | None = None
    checkinterval: int | None = None
    checkport: int | None = None
    login: str = ""
    passwd: str = ""
    database: str = ""
    secret: str = ""
    scheduler: str = "wrr"
    persistent: int | None = None
    netmask: str | None = None  # dotted quad (IPv4) or prefix length text (IPv6)
    schedflags: str | None = None
    ops: bool = False
    httpmethod: Literal["GET", "HEAD"] = "GET"
    virtualhost: str | None = None
    fallback: Fallback | None = None
    fallbackcommand: str | None = None
    quiescent: bool | None = None
    cleanstop: bool | None = None
    emailalert: str | None = None
    emailalertfreq: int | None = None
    emailalertstatus: frozenset[DaemonStatus] | None = None
    smtp: str | None = None
    monitorfile: str | None = None
    servicename: str | None = None
    comment: str | None = None
    risecount: int | None = None  # pyldirectord extension: successes needed to come up
    drain: int | None = None  # pyldirectord extension: graceful drain bound (quiescent=no)
    end_line: int = 0  # the line that ended the block (or the last line): duplicate errors
    ended_at_eof: bool = False


@dataclass(frozen=True, slots=True)
class Globals:
    """Column-0 directives. Defaults are the reference's code defaults (not its POD's)."""

    checktimeout: int | None = None
    negotiatetimeout: int | None = None
    checkinterval: int = DEFAULT_CHECKINTERVAL
    checkcount: int | None = None
    failurecount: int | None = None
    fallback: Fallback | None = None
    fallback6: Fallback | None = None
    fallbackcommand: str | None = None
    autoreload: bool = False
    callback: str | None = None
    logfile: str = DEFAULT_LOGFILE
    execute: tuple[str, ...] = ()
    fork: bool = False
    supervised: bool = False
    quiescent: bool = False
    readdquiescent: bool = False
    emailalert: str | None = None
    emailalertfreq: int = 0
    emailalertstatus: frozenset[DaemonStatus] = EMAIL_STATUSES
    emailalertfrom: str | None = None
    cleanstop: bool = True
    smtp: str | None = None
    maintenancedir: str | None = None
    risecount: int | None = None  # pyldirectord extension
    # pyldirectord extensions (docs/observability.md): the HTTP status/metrics listener and
    # the JSON-lines health-event log; both off unless set.
    statusaddress: tuple[str, int] | None = None
    drain: int | None = None  # seconds a failed real of a quiescent=no virtual may drain
    eventlog: str | None = None
    # pyldirectord extension (docs/design.md, "Check workers"): check processes; 1 checks in
    # the daemon's own loop, "auto" one process per CPU the daemon may use.
    workers: int | Literal["auto"] = 1
    # Every global fallback/fallback6 line in file order: the reference resolves each one at
    # its line, even one that a later line overrides.
    fallback_lines: tuple[Fallback, ...] = ()


@dataclass(frozen=True, slots=True)
class FileProbe:
    """A file the reference opens for append while it reads the config (validity depends on
    it): ``logfile`` (unless ``supervised=yes`` came first) and each ``monitorfile``; and the
    ``maintenancedir`` it warns about when it is not a directory."""

    line: int
    kind: Literal["logfile", "monitorfile", "maintenancedir"]
    path: str


@dataclass(frozen=True, slots=True)
class Config:
    path: str  # as resolved by the CLI (used verbatim in messages, like the reference)
    globals: Globals = field(default_factory=Globals)
    virtuals: tuple[Virtual, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()  # the reference's own config warnings
    resolved: bool = False
    file_probes: tuple[FileProbe, ...] = ()
    # Behaviour the parse kept from the reference but an operator should hear about (spec 8),
    # and pyldirectord extensions: --check-config prints them as warnings.
    quirks: tuple[Diagnostic, ...] = ()


# --- derived values (spec 2.9, 2.10) -------------------------------------------------------

SERVICE_BY_PORT: dict[int, str] = {
    21: "ftp", 25: "smtp", 53: "dns", 80: "http", 110: "pop", 119: "nntp", 143: "imap",
    389: "ldap", 443: "https", 587: "submission", 636: "ldaps", 993: "imaps", 995: "pops",
    1521: "oracle", 1812: "radius", 3128: "http_proxy", 3306: "mysql", 5060: "sip",
    5432: "pgsql",
}  # fmt: skip
PORT_BY_SERVICE: dict[str, int] = {service: port for port, service in SERVICE_BY_PORT.items()}


def service_of(virtual: Virtual) -> str:
    """The negotiate service: as written, else by the virtual's numeric port, else none."""
    if virtual.service is not None:
        return virtual.service
    if virtual.protocol == "fwm":
        return "none"
    return SERVICE_BY_PORT.get(virtual.port, "none")


def checkport_of(virtual: Virtual, real: Real) -> int | None:
    """``checkport``, else the real's port if > 0, else the service's port (fwmark reals)."""
    if virtual.checkport is not None:
        return virtual.checkport
    if real.port > 0:
        return real.port
    return PORT_BY_SERVICE.get(service_of(virtual))


def _first_set(*values: int | None) -> int | None:
    for value in values:
        if value is not None and value > 0:
            return value
    return None


def effective_checktimeout(virtual: Virtual, globals_: Globals) -> int:
    # ld_setup's fallback chain: a per-virtual negotiatetimeout beats a global checktimeout.
    return _first_set(
        virtual.checktimeout, virtual.negotiatetimeout,
        globals_.checktimeout, globals_.negotiatetimeout,
    ) or DEFAULT_CHECKTIMEOUT  # fmt: skip


def effective_negotiatetimeout(virtual: Virtual, globals_: Globals) -> int:
    return _first_set(
        virtual.negotiatetimeout, virtual.checktimeout,
        globals_.negotiatetimeout, globals_.checktimeout,
    ) or DEFAULT_NEGOTIATETIMEOUT  # fmt: skip


def effective_checkcount(virtual: Virtual, globals_: Globals) -> int:
    return _first_set(virtual.checkcount, globals_.checkcount) or 1


def effective_failurecount(virtual: Virtual, globals_: Globals) -> int:
    return _first_set(virtual.failurecount, globals_.failurecount) or 1


def effective_risecount(virtual: Virtual, globals_: Globals) -> int:
    return _first_set(virtual.risecount, globals_.risecount) or 1


def effective_quiescent(virtual: Virtual, globals_: Globals) -> bool:
    return globals_.quiescent if virtual.quiescent is None else virtual.quiescent


def effective_drain(virtual: Virtual, globals_: Globals) -> int:
    """Seconds a failed real may keep its established connections (quiescent=no); 0: none."""
    if effective_quiescent(virtual, globals_):
        return 0  # quiesced reals stay in the table anyway
    return _first_set(virtual.drain, globals_.drain) or 0


def effective_cleanstop(virtual: Virtual, globals_: Globals) -> bool:
    return globals_.cleanstop if virtual.cleanstop is None else virtual.cleanstop


def effective_fallback(virtual: Virtual, globals_: Globals) -> Fallback | None:
    """The virtual's own fallback, else the global one of its family.

    The reference turns a global fallback on a fwmark virtual into ``-r :0`` with no
    forwarding flag, which ipvsadm rejects; we give fwmark virtuals no global fallback.
    """
    if virtual.fallback is not None:
        return virtual.fallback
    if virtual.protocol == "fwm":
        return None
    return globals_.fallback6 if virtual.family == 6 else globals_.fallback


def effective_fallbackcommand(virtual: Virtual, globals_: Globals) -> str | None:
    return virtual.fallbackcommand or globals_.fallbackcommand


def effective_emailalert(virtual: Virtual, globals_: Globals) -> str | None:
    return virtual.emailalert or globals_.emailalert


def effective_emailalertfreq(virtual: Virtual, globals_: Globals) -> int:
    if virtual.emailalertfreq is not None:
        return virtual.emailalertfreq
    return globals_.emailalertfreq


def effective_emailalertstatus(virtual: Virtual, globals_: Globals) -> frozenset[DaemonStatus]:
    if virtual.emailalertstatus is not None:
        return virtual.emailalertstatus
    return globals_.emailalertstatus


def effective_smtp(virtual: Virtual, globals_: Globals) -> str | None:
    return virtual.smtp or globals_.smtp


def bracketed(host: str) -> str:
    """IPv6 literals are written ``[addr]`` in ids, logs and ipvsadm arguments."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def virtual_id(virtual: Virtual) -> str:
    """``tcp:<ip>:<port>``, ``udp:...``, ``fwm:<mark>`` or ``fwm6:<mark>`` (spec 2.10)."""
    if virtual.fwmark is not None:
        return f"fwm{'6' if virtual.family == 6 else ''}:{virtual.fwmark}"
    assert virtual.host is not None
    return f"{virtual.protocol}:{bracketed(virtual.host)}:{virtual.port}"


def virtual_address(virtual: Virtual) -> str:
    """What logs and emails call the virtual: ``ip:port`` or the fwmark."""
    if virtual.fwmark is not None:
        return str(virtual.fwmark)
    assert virtual.host is not None
    return f"{bracketed(virtual.host)}:{virtual.port}"


def _quotemeta(text: str) -> str:
    # Perl's quotemeta: a backslash before every non-word character.
    return "".join(c if c.isalnum() or c == "_" else "\\" + c for c in text)


def check_name(virtual: Virtual) -> str:
    if virtual.checktype in ("negotiate", "combined"):
        return f"{virtual.checktype}:{service_of(virtual)}"
    if virtual.checktype in ("external", "external-perl"):
        return f"{virtual.checktype}:{virtual.checkcommand}"
    return virtual.checktype


def real_id(virtual: Virtual, real: Real) -> str:
    """The reference's identity of a monitored real (spec 2.10).

    Reals with the same id, in any virtuals, are one monitored entity: checked once per pass,
    every result applied to each virtual that lists it.
    """
    request = real.request if real.request is not None else virtual.request
    receive = real.receive if real.receive is not None else virtual.receive
    parts = (
        check_name(virtual), virtual.protocol, bracketed(real.host), str(real.port),
        virtual.virtualhost or "", "" if virtual.checkport is None else str(virtual.checkport),
        str(real.weight), real.forward, _quotemeta(request), _quotemeta(receive),
    )  # fmt: skip
    return ":".join(parts)
