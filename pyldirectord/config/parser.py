"""ldirectord.cf text -> ``Config``, or the first ``ConfigError`` the reference would report.

Pure: no DNS, no /etc/services, no file opened. Names stay as written (``resolve.py`` turns
them into addresses and ports), and the files the reference opens while reading (logfile,
monitorfile) are listed in ``Config.file_probes`` for the validation pass.

The directive tables mirror ``read_config``'s if/elsif chains (spec 2.3-2.7) in their order,
with the reference's patterns, so that odd input takes the same branch it takes there.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pyldirectord.config import values
from pyldirectord.config.errors import ConfigError
from pyldirectord.config.lexer import (
    A,
    BlockEnd,
    BlockStart,
    Directive,
    Global,
    Token,
    tokens,
)
from pyldirectord.config.model import (
    Config,
    Diagnostic,
    Fallback,
    Family,
    FileProbe,
    Globals,
    Real,
    Virtual,
)
from pyldirectord.config.reals import (
    parse_fallback,
    parse_real,
    port_value,
    real_address,
    with_leading_slash,
)

Updates = dict[str, Any]


def default_hostname() -> str:
    """The reference's HOSTNAME: the environment's, else ``uname -n``."""
    return os.environ.get("HOSTNAME") or os.uname().nodename


@dataclass
class _Block:
    """A virtual block being read (the reference's ``%vsrv`` and ``@rsrv_todo``)."""

    start: BlockStart
    fields: Updates
    port_text: str  # the virtual's port as written ("0" for a fwmark)
    reals: list[Directive] = field(default_factory=list)


@dataclass
class _State:
    file: str
    hostname: str
    globals: Updates = field(default_factory=dict)
    virtuals: list[Virtual] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    quirks: list[Diagnostic] = field(default_factory=list)
    probes: list[FileProbe] = field(default_factory=list)
    fallback_lines: list[Fallback] = field(default_factory=list)
    execute: list[str] = field(default_factory=list)
    block: _Block | None = None

    def config(self) -> Config:
        globals_ = Globals(
            **self.globals, execute=tuple(self.execute), fallback_lines=tuple(self.fallback_lines)
        )
        return Config(
            path=self.file, globals=globals_, virtuals=tuple(self.virtuals),
            warnings=tuple(self.warnings), file_probes=tuple(self.probes),
            quirks=tuple(self.quirks),
        )  # fmt: skip

    def error(self, line: int, message: str, *, open_virtual: bool = False) -> ConfigError:
        return ConfigError(
            self.file, line, message, partial=self.config(), open_virtual=open_virtual
        )

    def warn(self, line: int, message: str) -> None:
        self.warnings.append(Diagnostic(self.file, line, message))

    def quirk(self, line: int, message: str, hint: str | None = None) -> None:
        self.quirks.append(Diagnostic(self.file, line, message, hint))


def parse(text: str, file: str, *, hostname: str | None = None) -> Config:
    """Parse ``text`` (read from ``file``, named in messages as given) the reference's way."""
    state = _State(file, hostname if hostname is not None else default_hostname())
    for token in tokens(text):
        _dispatch(state, token)
    return state.config()


def parse_bytes(data: bytes, file: str, *, hostname: str | None = None) -> Config:
    """The file's bytes as Perl reads them (one character per byte)."""
    return parse(data.decode("latin-1"), file, hostname=hostname)


def _dispatch(state: _State, token: Token) -> None:
    if isinstance(token, BlockStart):
        state.block = _open_block(state, token)
    elif isinstance(token, Directive):
        assert state.block is not None
        _block_directive(state, state.block, token)
    elif isinstance(token, BlockEnd):
        assert state.block is not None
        _close_block(state, state.block, token)
        state.block = None
    elif isinstance(token, Global):
        _global_directive(state, token)


# --- virtual= --------------------------------------------------------------------------------

V4_PORT = re.compile(r"^(\d+\.\d+\.\d+\.\d+):([0-9A-Za-z_-]+)", A)
HOST_PORT = re.compile(r"^([0-9A-Za-z._+-]+):([0-9A-Za-z_-]+)", A)
FWMARK = re.compile(r"^(\d+)", A)
V6_PORT = re.compile(r"^\[([0-9A-Fa-f:]+)\]:([0-9A-Za-z_-]+)", A)


def _open_block(state: _State, start: BlockStart) -> _Block:
    family: Family = 6 if start.family == 6 else 4
    host, port_text, fwmark = _virtual_address(state, start, family)
    fields: Updates = {"line": start.number, "family": family}
    if fwmark is not None:
        fields.update(protocol="fwm", host=None, port=0, fwmark=fwmark, service="none")
        return _Block(start, fields, "0")
    assert host is not None and port_text is not None
    port, port_name = port_value(port_text)
    protocol = "udp" if port_text in ("53", "domain") else "tcp"
    fields.update(protocol=protocol, host=host, port=port, port_name=port_name)
    return _Block(start, fields, port_text)


def _virtual_address(
    state: _State, start: BlockStart, family: Family
) -> tuple[str | None, str | None, int | None]:
    value = start.value
    match = V4_PORT.match(value) if family == 4 else None
    match = match or HOST_PORT.match(value)
    if match:
        return match.group(1), match.group(2), None
    match = FWMARK.match(value)
    if match:
        _fwmark_quirks(state, start, match.group(1))
        return None, None, int(match.group(1))
    match = V6_PORT.match(value)
    if match and family == 4:
        raise state.error(
            start.number, 'cannot specify an IPv6 address here. please use "virtual6" instead.'
        )
    if match:
        try:
            socket.inet_pton(socket.AF_INET6, match.group(1))
        except OSError:
            raise state.error(start.number, "invalid ipv6 address for virtual server") from None
        return match.group(1), match.group(2), None
    raise state.error(start.number, "invalid address for virtual server")


def _fwmark_quirks(state: _State, start: BlockStart, mark: str) -> None:
    rest = start.value[len(mark) :]
    if rest[:1] == ".":
        state.quirk(start.number, f"virtual={start.value.strip()} has no port: the reference "
                    f"reads it as firewall mark {int(mark)}, and so does pyldirectord",
                    hint="write virtual=ADDRESS:PORT, or the mark alone for a fwmark service")
    elif int(mark) == 0:
        state.quirk(start.number, "firewall mark 0 is accepted by the reference; "
                    "its documentation asks for a mark > 0")  # fmt: skip


def _close_block(state: _State, block: _Block, end: BlockEnd) -> None:
    """The block's end: its real lines are read now, after every other directive."""
    fields = dict(block.fields, end_line=end.number, ended_at_eof=end.at_eof)
    reals: list[Real] = []
    for directive in block.reals:
        real = _real_line(state, block, fields, reals, directive)
        reals.append(real)
    state.virtuals.append(Virtual(**fields, reals=tuple(reals)))


def _real_line(
    state: _State, block: _Block, fields: Updates, reals: list[Real], directive: Directive
) -> Real:
    value = _REAL.match(directive.text)
    assert value is not None
    text = value.group(3)
    address = real_address(text)
    if address is None:
        raise _cut_short(state, fields, reals, directive.number,
                         "invalid address for real server (wrong format)")  # fmt: skip
    if address.start > 0:
        state.quirk(directive.number, f'real={text.strip()}: the reference reads the address '
                    f'from "{address.host}", skipping what comes before it',
                    hint="check for a doubled ':' or stray characters before the address")
    try:
        real, notes = parse_real(text, directive.number, address, state.file)
    except ValueError as error:
        # The reference resolves this real's names before it reads its flags: keep them in
        # the partial config so the resolution pass can report a failure there first.
        port, port_name = port_value(address.port_text)
        pending = Real(directive.number, address.host, port, "gate", port_name=port_name,
                       range_end=address.range_end)  # fmt: skip
        raise _cut_short(state, fields, [*reals, pending], directive.number, str(error)) from None
    state.quirks.extend(notes)
    return real


def _cut_short(
    state: _State, fields: Updates, reals: list[Real], line: int, message: str
) -> ConfigError:
    partial = replace(state.config(), virtuals=(*state.virtuals, Virtual(**fields,
                      reals=tuple(reals))))  # fmt: skip
    return ConfigError(state.file, line, message, partial=partial, open_virtual=True)


# --- in-block directives -------------------------------------------------------------------

_REAL = re.compile(r"^(real(6)?)\s*=\s*(.*)", A)
BlockHandler = Callable[[_State, _Block, Directive, "re.Match[str]"], Updates]


def _block_directive(state: _State, block: _Block, directive: Directive) -> None:
    for pattern, handler in _BLOCK_TABLE:
        match = pattern.match(directive.text)
        if match is None:
            continue
        try:
            updates = handler(state, block, directive, match)
        except ValueError as error:
            raise state.error(directive.number, str(error)) from None
        block.fields.update(updates)
        return
    raise state.error(directive.number, f'Unknown command "{directive.raw}"')


def _b_real(state: _State, block: _Block, directive: Directive, match: re.Match[str]) -> Updates:
    is6 = match.group(2) is not None
    if is6 != (block.fields["family"] == 6):
        wanted = "real6" if block.fields["family"] == 6 else "real"
        raise ValueError(f'cannot specify "{match.group(1)}" here.  please use "{wanted}" instead')
    block.reals.append(directive)
    return {}


def _quoted_non_empty(name: str, error: str) -> BlockHandler:
    def handler(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
        return {name: values.non_empty(match.group(1), error)}

    return handler


def _b_request(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    request = values.non_empty(match.group(1), "no request string specified")
    return {"request": with_leading_slash(request)}


def _b_checktype(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    value = match.group(1)
    digits = values.first_digits(value)
    if digits is not None:
        if digits != value.strip():
            state.quirk(d.number, f'checktype={value.strip()} contains a digit, so the '
                        f'reference reads it as checktype={int(digits)} (combined)',
                        hint="checktype=N means N connect checks between negotiate checks")
        return {"checktype": "combined", "combined_connects": int(digits)}
    word = re.search(r"([\w-]+)", value, A)
    kinds = ("connect", "negotiate", "ping", "off", "on", "external", "external-perl")
    if word is None or word.group(1) not in kinds:
        raise ValueError('checktype must be "connect", "negotiate", "on", "off", "ping", '
                         '"external", "external-perl" or a positive number')  # fmt: skip
    return {"checktype": word.group(1)}


def _counter(name: str, error: str, *, deprecated: bool = False) -> BlockHandler:
    def handler(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
        number = values.count(match.group(1), error)
        if deprecated:
            state.warn(d.number, CHECKCOUNT_DEPRECATED)
        return {name: number}

    return handler


def _always(error: str) -> BlockHandler:
    def handler(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
        raise ValueError(error)

    return handler


def _raw(name: str, error: str | None = None) -> BlockHandler:
    def handler(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
        value = match.group(1)
        return {name: value if error is None else values.non_empty(value, error)}

    return handler


def _yes_no(name: str) -> BlockHandler:
    def handler(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
        return {name: values.yes_no(match.group(1), f"{name} must be 'yes' or 'no'")}

    return handler


def _b_checkport(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    digits = values.first_digits(match.group(1))
    if digits is None:
        raise ValueError("invalid port")
    if not 0 < int(digits) < 65536:
        raise ValueError("checkport must be in range 1..65536")
    return {"checkport": int(digits)}


def _b_load(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    # Undocumented and never used by the reference; only its syntax is checked.
    if re.search(r"\w+", match.group(1), A) is None:
        raise ValueError("invalid string for load testing")
    return {}


def _b_scheduler(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    # Any [a-z]+ run is taken (new kernel schedulers appear); ipvsadm judges the name.
    word = re.search(r"[a-z]+", match.group(1), A)
    if word is None:
        raise ValueError("invalid scheduler, should be only lowercase letters (a-z)")
    return {"scheduler": word.group(0)}


def _b_persistent(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    digits = values.first_digits(match.group(1))
    if digits is None:
        raise ValueError("invalid persistent timeout")
    return {"persistent": int(digits)}


def _b_schedflags(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    word = re.search(r"\S+", match.group(1), A)
    if word is None:
        raise ValueError("invalid sched-flags")
    return {"schedflags": word.group(0)}


def _b_netmask(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    value = match.group(1)
    if block.fields["family"] == 6:
        if not re.match(r"^\d+$", value, A) or not 1 <= int(value) <= 128:
            raise ValueError("invalid netmask: a prefix length between 1 and 128 is required")
    elif not re.match(r"^\d+\.\d+\.\d+\.\d+$", value, A):
        raise ValueError("invalid netmask: dotted quad notation is required")
    return {"netmask": value}


def _b_protocol(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    word = re.search(r"\w+", match.group(1), A)
    if word is None:
        raise ValueError("invalid protocol")
    if block.fields["protocol"] == "fwm":
        if word.group(0) != "fwm":
            raise ValueError("protocol must be fwm if the virtual service is a fwmark (a number)")
        return {}
    if word.group(0) not in ("tcp", "udp"):
        raise ValueError(
            "protocol must be tcp or udp if the virtual service is an address and port"
        )
    return {"protocol": word.group(0)}


def _b_ops(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    return {"ops": values.yes_no(match.group(1), "ops must be 'yes' or 'no'")}


SERVICES = (
    "dns", "ftp", "http", "https", "http_proxy", "imap", "imaps", "ldap", "ldaps", "nntp",
    "mysql", "none", "oracle", "pop", "pops", "radius", "pgsql", "sip", "smtp", "submission",
    "simpletcp",
)  # fmt: skip
SERVICE_ERROR = (
    "service must be dns, ftp, http, https, http_proxy, imap, imaps, ldap, ldaps, mysql, "
    "nntp, none, oracle, pop, pops, radius, pgsql, simpletcp, sip, smtp or submission"
)


def _b_service(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    word = re.search(r"\w+", match.group(1), A)
    if word is None or word.group(0) not in SERVICES:
        raise ValueError(SERVICE_ERROR)
    service = word.group(0)
    updates: Updates = {"service": service}
    # Only an explicit service= line sets these defaults (spec 8 #35), never an inferred one.
    login, passwd = block.fields.get("login", ""), block.fields.get("passwd", "")
    if service == "ftp" and login == "":
        updates["login"] = "anonymous"
    elif service == "sip" and login == "":
        updates["login"] = f"ldirectord@{state.hostname}"
    if service == "ftp" and passwd == "":
        updates["passwd"] = f"ldirectord@{state.hostname}"
    return updates


def _b_httpmethod(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    word = re.search(r"\w+", match.group(1), A)
    if word is None or word.group(0).upper() not in ("GET", "HEAD"):
        raise ValueError("httpmethod must be GET or HEAD")
    return {"httpmethod": word.group(0).upper()}


def _b_virtualhost(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    host = re.match(r'"?([^"]*)"?', match.group(1), A)
    assert host is not None  # every part of the pattern is optional
    return {"virtualhost": host.group(1)}


def _b_fallback(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    is6 = match.group(2) is not None
    if is6 != (block.fields["family"] == 6):
        wanted = "fallback6" if block.fields["family"] == 6 else "fallback"
        raise ValueError(
            f'cannot specify "{match.group(1)}" here.  please use "{wanted}" instead'
        )
    family: Family = 6 if is6 else 4
    return {"fallback": parse_fallback(match.group(3), family, block.port_text, d.number)}


def _b_emailalert(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    return {"emailalert": values.emailalert(match.group(1))}


def _b_emailalertfreq(state: _State, block: _Block, d: Directive, m: re.Match[str]) -> Updates:
    return {"emailalertfreq": values.emailalertfreq(m.group(1))}


def _b_emailalertstatus(state: _State, block: _Block, d: Directive, m: re.Match[str]) -> Updates:
    return {"emailalertstatus": values.emailalertstatus(m.group(1))}


def _b_monitorfile(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    state.probes.append(FileProbe(d.number, "monitorfile", match.group(1)))
    return {"monitorfile": match.group(1)}


def _b_smtp(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    return {"smtp": values.smtp(match.group(1))}


def _b_risecount(state: _State, block: _Block, d: Directive, match: re.Match[str]) -> Updates:
    state.quirk(d.number, EXTENSION.format("risecount"))
    return {"risecount": values.count(match.group(1), "invalid rise count")}


def _p(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, A)


CHECKCOUNT_DEPRECATED = (
    "checkcount option is deprecated and slated for removal.  please see 'failurecount'"
)
EXTENSION = "{} is a pyldirectord extension, not understood by the Perl ldirectord"

# (pattern, handler) in read_config's order; a quoted-or-raw directive tries "..." first.
_BLOCK_TABLE: tuple[tuple[re.Pattern[str], BlockHandler], ...] = (
    (_REAL, _b_real),
    (_p(r'^request\s*=\s*"(.*)"'), _b_request),
    (_p(r'^receive\s*=\s*"(.*)"'), _quoted_non_empty("receive", "invalid receive string")),
    (_p(r"^checktype\s*=\s*(.*)"), _b_checktype),
    (_p(r'^checkcommand\s*=\s*"(.*)"'), _raw("checkcommand", "invalid check command")),
    (_p(r"^checkcommand\s*=\s*(.*)"), _raw("checkcommand", "invalid check command")),
    (_p(r"^checktimeout\s*=\s*(.*)"), _counter("checktimeout", "invalid check timeout")),
    (_p(r"^connecttimeout\s*=\s*(.*)"),
     _always("connecttimeout directive deprecated in favour of negotiatetimeout")),
    (_p(r"^negotiatetimeout\s*=\s*(.*)"),
     _counter("negotiatetimeout", "invalid negotiate timeout")),
    (_p(r"^checkcount\s*=\s*(.*)"),
     _counter("checkcount", "invalid check count", deprecated=True)),
    (_p(r"^failurecount\s*=\s*(.*)"), _counter("failurecount", "invalid failure count")),
    (_p(r"^checkinterval\s*=\s*(.*)"), _counter("checkinterval", "invalid checkinterval")),
    (_p(r"^checkport\s*=\s*(.*)"), _b_checkport),
    (_p(r'^login\s*=\s*"(.*)"'), _quoted_non_empty("login", "invalid login string")),
    (_p(r'^passwd\s*=\s*"(.*)"'), _quoted_non_empty("passwd", "invalid password")),
    (_p(r'^database\s*=\s*"(.*)"'), _quoted_non_empty("database", "invalid database")),
    (_p(r'^secret\s*=\s*"(.*)"'), _quoted_non_empty("secret", "invalid secret")),
    (_p(r'^load\s*=\s*"(.*)"'), _b_load),
    (_p(r"^scheduler\s*=\s*(.*)"), _b_scheduler),
    (_p(r"^persistent\s*=\s*(.*)"), _b_persistent),
    (_p(r"^schedflags\s*=\s*(.*)"), _b_schedflags),
    (_p(r"^netmask\s*=\s*(.*)"), _b_netmask),
    (_p(r"^protocol\s*=\s*(.*)"), _b_protocol),
    (_p(r"^ops\s*=\s*(.*)"), _b_ops),
    (_p(r"^service\s*=\s*(.*)"), _b_service),
    (_p(r"^httpmethod\s*=\s*(.*)"), _b_httpmethod),
    (_p(r"^virtualhost\s*=\s*(.*)"), _b_virtualhost),
    (_p(r"^(fallback(6)?)\s*=\s*(.*)"), _b_fallback),
    (_p(r'^fallbackcommand\s*=\s*"(.*)"'), _raw("fallbackcommand", "invalid fallback command")),
    (_p(r"^fallbackcommand\s*=\s*(.*)"), _raw("fallbackcommand", "invalid fallback command")),
    (_p(r"^quiescent\s*=\s*(.*)"), _yes_no("quiescent")),
    (_p(r"^emailalert\s*=\s*(.*)"), _b_emailalert),
    (_p(r"^emailalertfreq\s*=\s*(\d*)"), _b_emailalertfreq),
    (_p(r"^emailalertstatus\s*=\s*(.*)"), _b_emailalertstatus),
    (_p(r'^monitorfile\s*=\s*"(.*)"'), _b_monitorfile),
    (_p(r"^monitorfile\s*=\s*(.*)"), _b_monitorfile),
    (_p(r"^cleanstop\s*=\s*(.*)"), _yes_no("cleanstop")),
    (_p(r"^smtp\s*=\s*(.*)"), _b_smtp),
    (_p(r"^servicename\s*=\s*(.*)"), _raw("servicename")),
    (_p(r"^comment\s*=\s*(.*)"), _raw("comment")),
    (_p(r"^risecount\s*=\s*(.*)"), _b_risecount),
)  # fmt: skip


# --- global directives ----------------------------------------------------------------------

GlobalHandler = Callable[[_State, Global, "re.Match[str]"], Updates]


def _global_directive(state: _State, line: Global) -> None:
    for pattern, handler in _GLOBAL_TABLE:
        match = pattern.match(line.raw)
        if match is None:
            continue
        try:
            updates = handler(state, line, match)
        except ValueError as error:
            raise state.error(line.number, str(error)) from None
        state.globals.update(updates)
        return
    if re.match(r"^timeout\s*=\s*(.*)", line.raw, A):
        raise state.error(line.number, "timeout directive deprecated in favour of "
                          "checktimeout and negotiatetimeout")  # fmt: skip
    raise state.error(line.number, f"Unknown command {line.raw} ")


def _g_counter(name: str, error: str, *, positive: bool = False) -> GlobalHandler:
    def handler(state: _State, line: Global, match: re.Match[str]) -> Updates:
        number = values.count(match.group(1), error, positive=positive)
        if name == "checkcount":
            state.warn(line.number, CHECKCOUNT_DEPRECATED)
        if number == 0:
            state.quirk(line.number, f'{name}: the reference takes "00" as a true value, '
                        "so the setting is 0")  # fmt: skip
        return {name: number}

    return handler


def _g_always(error: str) -> GlobalHandler:
    def handler(state: _State, line: Global, match: re.Match[str]) -> Updates:
        raise ValueError(error)

    return handler


def _g_yes_no(name: str) -> GlobalHandler:
    def handler(state: _State, line: Global, match: re.Match[str]) -> Updates:
        return {name: values.yes_no(match.group(1), f"{name} must be 'yes' or 'no'")}

    return handler


def _g_fallback(state: _State, line: Global, match: re.Match[str]) -> Updates:
    family: Family = 6 if match.group(1) else 4
    fallback = parse_fallback(match.group(2), family, None, line.number)
    state.fallback_lines.append(fallback)
    return {"fallback6" if family == 6 else "fallback": fallback}


def _g_raw(name: str, error: str | None = None) -> GlobalHandler:
    def handler(state: _State, line: Global, match: re.Match[str]) -> Updates:
        value = match.group(1)
        return {name: value if error is None else values.non_empty(value, error)}

    return handler


def _g_logfile(state: _State, line: Global, match: re.Match[str]) -> Updates:
    # ld_openlog test-opens a file path (or opens syslog) at once, unless supervised=yes
    # was read before this line.
    value = match.group(1)
    if not state.globals.get("supervised", False) and value.startswith("/"):
        state.probes.append(FileProbe(line.number, "logfile", value))
    elif not value.startswith("/") and value not in SYSLOG_FACILITIES:
        state.quirk(line.number, f'logfile="{value}" is neither a path nor a syslog facility',
                    hint="a path starting with /, or e.g. daemon, local0 ... local7")
    return {"logfile": value}


SYSLOG_FACILITIES = frozenset(
    ("auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog",
     "user", "uucp", *(f"local{n}" for n in range(8)))
)  # fmt: skip


def _g_execute(state: _State, line: Global, match: re.Match[str]) -> Updates:
    if match.group(1) not in state.execute:  # a hash in the reference: each config once
        state.execute.append(match.group(1))
    return {}


def _g_supervised(state: _State, line: Global, match: re.Match[str]) -> Updates:
    value = re.match(r"^supervised\s*=\s*(.*)", line.raw, A)
    if value and value.group(1) in ("yes", "no"):
        return {"supervised": value.group(1) == "yes"}
    if re.match(r"^supervised\s*$", line.raw, A):
        state.warn(line.number, "please update your config not to use a bare supervised "
                   "directive")  # fmt: skip
        return {"supervised": True}
    raise ValueError("supervised must be 'yes' or 'no'")


def _g_maintenancedir(state: _State, line: Global, match: re.Match[str]) -> Updates:
    path = values.non_empty(match.group(1), "maintenance directory not specified")
    state.probes.append(FileProbe(line.number, "maintenancedir", path))
    return {"maintenancedir": path}


def _g_fork(state: _State, line: Global, match: re.Match[str]) -> Updates:
    fork = values.yes_no(match.group(1), "fork must be 'yes' or 'no'")
    if fork:
        state.quirk(line.number, "fork=yes: pyldirectord checks every virtual concurrently in "
                    "one process (no child per virtual); per-virtual checkinterval applies")
    return {"fork": fork}


def _g_emailalert(state: _State, line: Global, match: re.Match[str]) -> Updates:
    return {"emailalert": values.emailalert(match.group(1))}


def _g_emailalertfreq(state: _State, line: Global, match: re.Match[str]) -> Updates:
    return {"emailalertfreq": values.emailalertfreq(match.group(1))}


def _g_emailalertstatus(state: _State, line: Global, match: re.Match[str]) -> Updates:
    return {"emailalertstatus": values.emailalertstatus(match.group(1))}


def _g_smtp(state: _State, line: Global, match: re.Match[str]) -> Updates:
    return {"smtp": values.smtp(match.group(1))}


def _g_risecount(state: _State, line: Global, match: re.Match[str]) -> Updates:
    state.quirk(line.number, EXTENSION.format("risecount"))
    return {"risecount": values.count(match.group(1), "invalid rise count")}


_GLOBAL_TABLE: tuple[tuple[re.Pattern[str], GlobalHandler], ...] = (
    (_p(r"^checktimeout\s*=\s*(.*)"),
     _g_counter("checktimeout", "invalid check timeout value", positive=True)),
    (_p(r"^connecttimeout\s*=\s*(.*)"),
     _g_always("connecttimeout directive deprecated in favour of negotiatetimeout")),
    (_p(r"^negotiatetimeout\s*=\s*(.*)"),
     _g_counter("negotiatetimeout", "invalid negotiate timeout value", positive=True)),
    (_p(r"^checkinterval\s*=\s*(.*)"), _g_counter("checkinterval", "invalid check interval value")),
    (_p(r"^checkcount\s*=\s*(.*)"), _g_counter("checkcount", "invalid check count value")),
    (_p(r"^failurecount\s*=\s*(.*)"), _g_counter("failurecount", "invalid failure count value")),
    (_p(r"^fallback(6)?\s*=\s*(.*)"), _g_fallback),
    (_p(r"^fallbackcommand\s*=\s*(.*)"), _g_raw("fallbackcommand", "invalid fallback command")),
    (_p(r"^autoreload\s*=\s*(.*)"), _g_yes_no("autoreload")),
    (_p(r'^callback\s*=\s*"(.*)"'), _g_raw("callback")),
    (_p(r'^logfile\s*=\s*"(.*)"'), _g_logfile),
    (_p(r"^execute\s*=\s*(.*)"), _g_execute),
    (_p(r"^fork\s*=\s*(.*)"), _g_fork),
    (_p(r"^supervised"), _g_supervised),
    (_p(r"^quiescent\s*=\s*(.*)"), _g_yes_no("quiescent")),
    (_p(r"^readdquiescent\s*=\s*(.*)"), _g_yes_no("readdquiescent")),
    (_p(r"^emailalert\s*=\s*(.*)"), _g_emailalert),
    (_p(r"^emailalertfreq\s*=\s*(\d*)"), _g_emailalertfreq),
    (_p(r"^emailalertstatus\s*=\s*(.*)"), _g_emailalertstatus),
    (_p(r"^emailalertfrom\s*=\s*(.*)"),
     _g_raw("emailalertfrom", "no email from address specified")),
    (_p(r"^cleanstop\s*=\s*(.*)"), _g_yes_no("cleanstop")),
    (_p(r"^smtp\s*=\s*(.*)"), _g_smtp),
    (_p(r"^maintenancedir\s*=\s*(.*)"), _g_maintenancedir),
    (_p(r"^risecount\s*=\s*(.*)"), _g_risecount),
)  # fmt: skip
