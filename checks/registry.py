"""Which check function serves a (checktype, service, protocol): the registry (spec 4.1).

``Checkers`` owns the shared resources (the HTTP session) and is created and closed by the
caller. A combination we do not implement raises ``UnsupportedCheck``: it is never silently
"up" nor checked by something weaker; ``unsupported_reason`` lets the config be refused first.

A check module is imported when a config first asks for it: aiohttp, pymysql (with
cryptography), dnspython, aiosmtplib, asyncpg, ldap3 and the others together take seconds to
import on a slow file system (the sandbox's hostfs: `start` waits for the daemon), and most
directors use one or two checks.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from pyldirectord.checks.base import CheckFn, CheckResult, CheckSpec, Target

if TYPE_CHECKING:
    from pyldirectord.checks.engine import Flight
    from pyldirectord.checks.http import HttpChecker

# A fresh flight for one round of a real's check, and the timeout it runs under.
FlightMaker = Callable[[], "tuple[Flight, float]"]

CHECKTYPES = frozenset(
    {"connect", "ping", "external", "external-perl", "negotiate", "combined", "on", "off"}
)
# service -> the module of its negotiate check (http's checker is shared: see Checkers.http).
SERVICE_MODULES = {
    "dns": "dns", "ftp": "ftp", "imap": "imap", "imaps": "imap", "ldap": "ldap",
    "ldaps": "ldap", "mysql": "mysql", "nntp": "nntp", "pgsql": "pgsql", "pop": "pop",
    "pops": "pop", "radius": "radius", "simpletcp": "simpletcp", "sip": "sip", "smtp": "smtp",
    "submission": "smtp",
}  # fmt: skip
HTTP_SERVICES = frozenset({"http", "https", "http_proxy"})
# Services of the reference we refuse, and why: a config naming one is invalid
# (docs/compatibility-checks.md), never checked by something weaker.
UNSUPPORTED_SERVICES = {
    "oracle": "service=oracle is not supported by pyldirectord (it has no Oracle client); "
    "check this virtual with checktype=connect or an external check",
}


def unsupported_reason(checktype: str, service: str) -> str | None:
    """Why this check cannot run, or None when it can (pure: nothing is imported)."""
    if checktype not in CHECKTYPES:
        return f"unknown checktype {checktype!r}"
    if checktype not in ("negotiate", "combined"):
        return None
    if service in UNSUPPORTED_SERVICES:
        return UNSUPPORTED_SERVICES[service]
    if service in SERVICE_MODULES or service in HTTP_SERVICES or service == "none":
        return None
    return f"unknown service {service!r}"


class UnsupportedCheck(LookupError):
    """A checktype/service/protocol combination pyldirectord does not implement."""


async def always_up(target: Target, spec: CheckSpec) -> CheckResult:
    """checktype=on and service=none: up without any I/O."""
    return CheckResult(True, f"checktype {spec.checktype}, service {spec.service}: no check", 0.0)


async def never_up(target: Target, spec: CheckSpec) -> CheckResult:
    """checktype=off: never brought up (the director need not even schedule it)."""
    return CheckResult(False, "checktype off", 0.0)


class Checkers:
    """``async with Checkers() as c: check = c.lookup("negotiate", "http", "tcp")``."""

    def __init__(self, http: HttpChecker | None = None) -> None:
        self._http = http
        self._open = False

    @property
    def http(self) -> HttpChecker:
        """The shared HTTP checker, created (and opened, inside ``async with``) on first use."""
        if self._http is None:
            from pyldirectord.checks.http import HttpChecker

            self._http = HttpChecker()
        if self._open:
            self._http.open()  # idempotent
        return self._http

    async def __aenter__(self) -> Checkers:
        self._open = True
        if self._http is not None:
            self._http.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        self._open = False
        if self._http is not None:
            await self._http.close()

    def lookup(self, checktype: str, service: str, protocol: str) -> CheckFn:
        """The check to run for one real; for ``combined`` ask for negotiate and connect."""
        if checktype not in CHECKTYPES:
            raise UnsupportedCheck(f"unknown checktype {checktype!r}")
        if checktype == "combined":
            # Supported, but stateful: the caller keeps a Combined per real and looks up
            # the two halves itself. Asking for "combined" here is a programming error.
            raise ValueError("combined: look up 'negotiate' and 'connect' (see Combined)")
        if checktype == "on":
            return always_up
        if checktype == "off":
            return never_up
        if checktype == "ping":
            return _check("ping")
        if checktype == "external":
            return _check("external")
        if checktype == "external-perl":
            return _check("external", "check_perl")
        if checktype == "connect":
            # As ldirectord: a UDP service cannot be connect-checked, so it is pinged.
            return _check("ping" if protocol == "udp" else "connect")
        return self._negotiate(service, protocol)

    def flights(self, checktype: str, target: Target, spec: CheckSpec) -> FlightMaker | None:
        """A maker of this real's check as an engine ``Flight`` (checks/engine.py), or None
        when its check runs only as a coroutine. Only where ``lookup`` gives the same check:
        connect on TCP (a UDP "connect" is a ping), and the lean plain-http path."""
        if checktype == "connect" and spec.protocol != "udp":
            from pyldirectord.checks.connect import ConnectFlight

            timeout = spec.checktimeout
            return lambda: (ConnectFlight(target), timeout)
        if checktype == "negotiate" and spec.service == "http":
            made = self.http.flight_factory(target, spec)
            if made is None:
                return None
            timeout = spec.negotiatetimeout
            return lambda: (made(), timeout)
        return None

    def _negotiate(self, service: str, protocol: str) -> CheckFn:
        why = unsupported_reason("negotiate", service)
        if why is not None:
            raise UnsupportedCheck(why)
        if service in HTTP_SERVICES:
            return self.http.check
        if service == "none":
            return always_up
        return _check(SERVICE_MODULES[service])


def _check(module: str, name: str = "check") -> CheckFn:
    """``pyldirectord.checks.<module>.<name>``, importing the module on first use."""
    check: CheckFn = getattr(importlib.import_module(f"pyldirectord.checks.{module}"), name)
    return check
