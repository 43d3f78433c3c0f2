"""Refuse a config whose checks cannot run as written (a pass after resolution), and warn
about checks that run but can never find a real up.

The reference accepts ``service=oracle`` and then fails at check time (Debian has no
DBD::Oracle); pyldirectord has no Oracle client either. Rather than check such a virtual with
something weaker, or report its reals up unchecked, the config is invalid: ``--check-config``,
``start`` and ``reload`` report the virtual's ``service=`` line (or its ``virtual=`` line when
the service comes from the port) and change nothing.
"""

from __future__ import annotations

from pyldirectord.checks.registry import unsupported_reason
from pyldirectord.config.errors import ConfigError
from pyldirectord.config.model import Config, Diagnostic, Virtual, service_of

SQL_SERVICES = frozenset({"mysql", "pgsql"})


def require_supported_checks(config: Config) -> Config:
    """``config`` itself, or the ConfigError of its first check that cannot run."""
    for virtual in config.virtuals:
        why = unsupported_reason(virtual.checktype, service_of(virtual))
        if why is not None:
            raise ConfigError(config.path, virtual.service_line or virtual.line, why)
    return config


def check_warnings(config: Config) -> list[Diagnostic]:
    """Negotiate checks that will keep every real of their virtual down, as the reference's
    do; the reference accepts these configs, so they are warnings (``--check-config``)."""
    found = []
    for virtual in config.virtuals:
        if virtual.checktype not in ("negotiate", "combined") or not virtual.reals:
            continue
        service = service_of(virtual)
        line = virtual.service_line or virtual.line
        if service in SQL_SERVICES and not (virtual.login and _any_query(virtual)):
            found.append(Diagnostic(config.path, line, f"service={service} needs login and "
                                    "request: every real of this virtual stays down "
                                    "(Must specify a login and request string)"))  # fmt: skip
        if service == "radius" and not virtual.secret:
            found.append(Diagnostic(config.path, line, "service=radius without secret: a "
                                    "RADIUS server ignores the unsigned requests, every real "
                                    "of this virtual stays down"))  # fmt: skip
    return found


def _any_query(virtual: Virtual) -> bool:
    """Some real has a query: its own request, else the block's, minus the leading ``/``."""
    for real in virtual.reals:
        request = real.request if real.request is not None else virtual.request
        if request[1:] if request.startswith("/") else request:
            return True
    return False
