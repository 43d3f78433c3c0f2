"""Global directives (spec 2.3): read_config's top-level if/elsif chain, in its order."""

from __future__ import annotations

import re
from collections.abc import Callable

from pyldirectord.config import values
from pyldirectord.config.hints import global_hint
from pyldirectord.config.lexer import A, Global
from pyldirectord.config.model import Family, FileProbe
from pyldirectord.config.reals import parse_fallback
from pyldirectord.config.state import (
    CHECKCOUNT_DEPRECATED,
    EXTENSION,
    State,
    Updates,
)
from pyldirectord.config.state import (
    pattern as _p,
)

GlobalHandler = Callable[[State, Global, "re.Match[str]"], Updates]


def global_directive(state: State, line: Global) -> None:
    for pattern, handler in GLOBAL_TABLE:
        match = pattern.match(line.raw)
        if match is None:
            continue
        try:
            updates = handler(state, line, match)
        except ValueError as error:
            hint = values.hint_of(error) or global_hint(line.raw, str(error))
            raise state.error(line.number, str(error), hint) from None
        state.globals.update(updates)
        return
    if re.match(r"^timeout\s*=\s*(.*)", line.raw, A):
        raise state.error(line.number, "timeout directive deprecated in favour of "
                          "checktimeout and negotiatetimeout")  # fmt: skip
    message = f"Unknown command {line.raw} "
    raise state.error(line.number, message, global_hint(line.raw, message))


def _g_counter(name: str, error: str, *, positive: bool = False) -> GlobalHandler:
    def handler(state: State, line: Global, match: re.Match[str]) -> Updates:
        number = values.count(match.group(1), error, positive=positive)
        if name == "checkcount":
            state.warn(line.number, CHECKCOUNT_DEPRECATED)
        if number == 0:
            state.quirk(line.number, f'{name}: the reference takes "00" as a true value, '
                        "so the setting is 0")  # fmt: skip
        return {name: number}

    return handler


def _g_always(error: str) -> GlobalHandler:
    def handler(state: State, line: Global, match: re.Match[str]) -> Updates:
        raise ValueError(error)

    return handler


def _g_yes_no(name: str) -> GlobalHandler:
    def handler(state: State, line: Global, match: re.Match[str]) -> Updates:
        return {name: values.yes_no(match.group(1), f"{name} must be 'yes' or 'no'")}

    return handler


def _g_fallback(state: State, line: Global, match: re.Match[str]) -> Updates:
    family: Family = 6 if match.group(1) else 4
    fallback = parse_fallback(match.group(2), family, None, line.number)
    state.fallback_lines.append(fallback)
    return {"fallback6" if family == 6 else "fallback": fallback}


def _g_raw(name: str, error: str | None = None) -> GlobalHandler:
    def handler(state: State, line: Global, match: re.Match[str]) -> Updates:
        value = match.group(1)
        return {name: value if error is None else values.non_empty(value, error)}

    return handler


def _g_logfile(state: State, line: Global, match: re.Match[str]) -> Updates:
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


def _g_execute(state: State, line: Global, match: re.Match[str]) -> Updates:
    if match.group(1) not in state.execute:  # a hash in the reference: each config once
        state.execute.append(match.group(1))
    return {}


def _g_supervised(state: State, line: Global, match: re.Match[str]) -> Updates:
    value = re.match(r"^supervised\s*=\s*(.*)", line.raw, A)
    if value and value.group(1) in ("yes", "no"):
        return {"supervised": value.group(1) == "yes"}
    if re.match(r"^supervised\s*$", line.raw, A):
        state.warn(line.number, "please update your config not to use a bare supervised "
                   "directive")  # fmt: skip
        return {"supervised": True}
    raise ValueError("supervised must be 'yes' or 'no'")


def _g_maintenancedir(state: State, line: Global, match: re.Match[str]) -> Updates:
    path = values.non_empty(match.group(1), "maintenance directory not specified")
    state.probes.append(FileProbe(line.number, "maintenancedir", path))
    return {"maintenancedir": path}


def _g_fork(state: State, line: Global, match: re.Match[str]) -> Updates:
    fork = values.yes_no(match.group(1), "fork must be 'yes' or 'no'")
    if fork:
        state.quirk(line.number, "fork=yes: pyldirectord checks every virtual concurrently in "
                    "one process (no child per virtual); per-virtual checkinterval applies")
    return {"fork": fork}


def _g_emailalert(state: State, line: Global, match: re.Match[str]) -> Updates:
    return {"emailalert": values.emailalert(match.group(1))}


def _g_emailalertfreq(state: State, line: Global, match: re.Match[str]) -> Updates:
    return {"emailalertfreq": values.emailalertfreq(match.group(1))}


def _g_emailalertstatus(state: State, line: Global, match: re.Match[str]) -> Updates:
    return {"emailalertstatus": values.emailalertstatus(match.group(1))}


def _g_smtp(state: State, line: Global, match: re.Match[str]) -> Updates:
    server = values.smtp(match.group(1))
    if values.smtp_port(server):
        state.quirk(line.number, EXTENSION.format("a port in smtp="))
    return {"smtp": server}


def _g_risecount(state: State, line: Global, match: re.Match[str]) -> Updates:
    state.quirk(line.number, EXTENSION.format("risecount"))
    return {"risecount": values.count(match.group(1), "invalid rise count")}


def _g_drain(state: State, line: Global, match: re.Match[str]) -> Updates:
    state.quirk(line.number, EXTENSION.format("drain"))
    return {"drain": values.count(match.group(1), "invalid drain time")}


def _g_statusaddress(state: State, line: Global, match: re.Match[str]) -> Updates:
    state.quirk(line.number, EXTENSION.format("statusaddress"))
    return {"statusaddress": values.listen_address(match.group(1))}


def _g_eventlog(state: State, line: Global, match: re.Match[str]) -> Updates:
    state.quirk(line.number, EXTENSION.format("eventlog"))
    return {"eventlog": values.absolute_path(match.group(1).strip('"'), "eventlog")}


def _g_workers(state: State, line: Global, match: re.Match[str]) -> Updates:
    state.quirk(line.number, EXTENSION.format("workers"))
    return {"workers": values.workers(match.group(1).strip(values.BLANKS))}


GLOBAL_TABLE: tuple[tuple[re.Pattern[str], GlobalHandler], ...] = (
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
    (_p(r"^statusaddress\s*=\s*(.*)"), _g_statusaddress),
    (_p(r"^drain\s*=\s*(.*)"), _g_drain),
    (_p(r"^eventlog\s*=\s*(.*)"), _g_eventlog),
    (_p(r"^workers\s*=\s*(.*)"), _g_workers),
)  # fmt: skip
