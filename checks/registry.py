"""Which check function serves a (checktype, service, protocol): the registry (spec 4.1).

``Checkers`` owns the shared resources (the HTTP session) and is created and closed by the
caller. A combination we do not implement raises ``UnsupportedCheck``: it is never silently
"up", so the caller decides (refuse the config, or warn and keep the real down).
"""

from __future__ import annotations

from types import TracebackType

from pyldirectord.checks import connect, dns, external, mysql, nntp, ping, simpletcp, smtp
from pyldirectord.checks.base import CheckFn, CheckResult, CheckSpec, Target
from pyldirectord.checks.http import HttpChecker

CHECKTYPES = frozenset(
    {"connect", "ping", "external", "external-perl", "negotiate", "combined", "on", "off"}
)
# Services of the reference we do not check (yet); asking for one raises UnsupportedCheck.
UNSUPPORTED_SERVICES = frozenset(
    {"ftp", "imap", "imaps", "ldap", "ldaps", "oracle", "pgsql", "pop", "pops", "radius", "sip"}
)


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
        self.http = http or HttpChecker()

    async def __aenter__(self) -> Checkers:
        self.http.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.close()

    def lookup(self, checktype: str, service: str, protocol: str) -> CheckFn:
        """The check to run for one real; for ``combined`` ask for negotiate and connect."""
        if checktype not in CHECKTYPES:
            raise UnsupportedCheck(f"unknown checktype {checktype!r}")
        if checktype == "combined":
            # Supported, but stateful: the caller keeps a Combined per real and looks up
            # the two halves itself. Asking for "combined" here is a programming error.
            raise ValueError("combined: look up 'negotiate' and 'connect' (see Combined)")
        simple: dict[str, CheckFn] = {
            "ping": ping.check,
            "external": external.check,
            "external-perl": external.check_perl,
            "on": always_up,
            "off": never_up,
        }
        if checktype in simple:
            return simple[checktype]
        if checktype == "connect":
            # As ldirectord: a UDP service cannot be connect-checked, so it is pinged.
            return ping.check if protocol == "udp" else connect.check
        return self._negotiate(service, protocol)

    def _negotiate(self, service: str, protocol: str) -> CheckFn:
        if service in ("http", "https", "http_proxy"):
            return self.http.check
        if service == "mysql":
            return mysql.check
        if service == "dns":
            return dns.check
        if service in ("smtp", "submission"):
            return smtp.check
        if service == "nntp":
            return nntp.check
        if service == "simpletcp" and protocol != "udp":
            return simpletcp.check
        if service == "none":
            return always_up
        if service in UNSUPPORTED_SERVICES or service == "simpletcp":
            raise UnsupportedCheck(
                f"negotiate check of service {service!r} over {protocol} is not implemented"
            )
        raise UnsupportedCheck(f"unknown service {service!r}")
