"""In-block directives (spec 2.5): read_config's in-block if/elsif chain, in its order, with
the reference's patterns, so that odd input takes the branch it takes there."""

from __future__ import annotations

import re
from collections.abc import Callable

from pyldirectord.config import values
from pyldirectord.config.hints import block_hint
from pyldirectord.config.lexer import A, Directive
from pyldirectord.config.model import Family, FileProbe
from pyldirectord.config.reals import parse_fallback, with_leading_slash
from pyldirectord.config.state import (
    CHECKCOUNT_DEPRECATED,
    EXTENSION,
    Block,
    State,
    Updates,
)
from pyldirectord.config.state import (
    pattern as _p,
)

REAL_DIRECTIVE = re.compile(r"^(real(6)?)\s*=\s*(.*)", A)
BlockHandler = Callable[[State, Block, Directive, "re.Match[str]"], Updates]


def block_directive(state: State, block: Block, directive: Directive) -> None:
    for pattern, handler in BLOCK_TABLE:
        match = pattern.match(directive.text)
        if match is None:
            continue
        try:
            updates = handler(state, block, directive, match)
        except ValueError as error:
            hint = block_hint(directive.raw, directive.text, str(error))
            raise state.error(directive.number, str(error), hint) from None
        block.fields.update(updates)
        return
    message = f'Unknown command "{directive.raw}"'
    raise state.error(directive.number, message, block_hint(directive.raw, directive.text,
                                                            message))  # fmt: skip


def _b_real(state: State, block: Block, directive: Directive, match: re.Match[str]) -> Updates:
    is6 = match.group(2) is not None
    if is6 != (block.fields["family"] == 6):
        wanted = "real6" if block.fields["family"] == 6 else "real"
        raise ValueError(f'cannot specify "{match.group(1)}" here.  please use "{wanted}" instead')
    block.reals.append(directive)
    return {}


def _quoted_non_empty(name: str, error: str) -> BlockHandler:
    def handler(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
        return {name: values.non_empty(match.group(1), error)}

    return handler


def _b_request(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
    request = values.non_empty(match.group(1), "no request string specified")
    return {"request": with_leading_slash(request)}


def _b_checktype(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
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
    def handler(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
        number = values.count(match.group(1), error)
        if deprecated:
            state.warn(d.number, CHECKCOUNT_DEPRECATED)
        return {name: number}

    return handler


def _always(error: str) -> BlockHandler:
    def handler(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
        raise ValueError(error)

    return handler


def _raw(name: str, error: str | None = None) -> BlockHandler:
    def handler(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
        value = match.group(1)
        return {name: value if error is None else values.non_empty(value, error)}

    return handler


def _yes_no(name: str) -> BlockHandler:
    def handler(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
        return {name: values.yes_no(match.group(1), f"{name} must be 'yes' or 'no'")}

    return handler


def _b_checkport(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
    digits = values.first_digits(match.group(1))
    if digits is None:
        raise ValueError("invalid port")
    if not 0 < int(digits) < 65536:
        raise ValueError("checkport must be in range 1..65536")
    return {"checkport": int(digits)}


def _b_load(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
    # Undocumented and never used by the reference; only its syntax is checked.
    if re.search(r"\w+", match.group(1), A) is None:
        raise ValueError("invalid string for load testing")
    return {}


def _b_scheduler(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
    # Any [a-z]+ run is taken (new kernel schedulers appear); ipvsadm judges the name.
    word = re.search(r"[a-z]+", match.group(1), A)
    if word is None:
        raise ValueError("invalid scheduler, should be only lowercase letters (a-z)")
    return {"scheduler": word.group(0)}


def _b_persistent(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
    digits = values.first_digits(match.group(1))
    if digits is None:
        raise ValueError("invalid persistent timeout")
    return {"persistent": int(digits)}


def _b_schedflags(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
    word = re.search(r"\S+", match.group(1), A)
    if word is None:
        raise ValueError("invalid sched-flags")
    return {"schedflags": word.group(0)}


def _b_netmask(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
    value = match.group(1)
    if block.fields["family"] == 6:
        if not re.match(r"^\d+$", value, A) or not 1 <= int(value) <= 128:
            raise ValueError("invalid netmask: a prefix length between 1 and 128 is required")
    elif not re.match(r"^\d+\.\d+\.\d+\.\d+$", value, A):
        raise ValueError("invalid netmask: dotted quad notation is required")
    return {"netmask": value}


def _b_protocol(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
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


def _b_ops(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
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


def _b_service(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
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


def _b_httpmethod(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
    word = re.search(r"\w+", match.group(1), A)
    if word is None or word.group(0).upper() not in ("GET", "HEAD"):
        raise ValueError("httpmethod must be GET or HEAD")
    return {"httpmethod": word.group(0).upper()}


def _b_virtualhost(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
    host = re.match(r'"?([^"]*)"?', match.group(1), A)
    assert host is not None  # every part of the pattern is optional
    return {"virtualhost": host.group(1)}


def _b_fallback(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
    is6 = match.group(2) is not None
    if is6 != (block.fields["family"] == 6):
        wanted = "fallback6" if block.fields["family"] == 6 else "fallback"
        raise ValueError(
            f'cannot specify "{match.group(1)}" here.  please use "{wanted}" instead'
        )
    family: Family = 6 if is6 else 4
    return {"fallback": parse_fallback(match.group(3), family, block.port_text, d.number)}


def _b_emailalert(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
    return {"emailalert": values.emailalert(match.group(1))}


def _b_emailalertfreq(state: State, block: Block, d: Directive, m: re.Match[str]) -> Updates:
    return {"emailalertfreq": values.emailalertfreq(m.group(1))}


def _b_emailalertstatus(state: State, block: Block, d: Directive, m: re.Match[str]) -> Updates:
    return {"emailalertstatus": values.emailalertstatus(m.group(1))}


def _b_monitorfile(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
    state.probes.append(FileProbe(d.number, "monitorfile", match.group(1)))
    return {"monitorfile": match.group(1)}


def _b_smtp(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
    server = values.smtp(match.group(1))
    if values.smtp_port(server):
        state.quirk(d.number, EXTENSION.format("a port in smtp="))
    return {"smtp": server}


def _b_drain(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
    state.quirk(d.number, EXTENSION.format("drain"))
    return {"drain": values.count(match.group(1), "invalid drain time")}


def _b_risecount(state: State, block: Block, d: Directive, match: re.Match[str]) -> Updates:
    state.quirk(d.number, EXTENSION.format("risecount"))
    return {"risecount": values.count(match.group(1), "invalid rise count")}



# (pattern, handler) in read_config's order; a quoted-or-raw directive tries "..." first.
BLOCK_TABLE: tuple[tuple[re.Pattern[str], BlockHandler], ...] = (
    (REAL_DIRECTIVE, _b_real),
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
    (_p(r"^drain\s*=\s*(.*)"), _b_drain),
)  # fmt: skip

