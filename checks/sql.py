"""What the SQL checks (mysql, pgsql) share: the reference's text for a missing login/request."""

from __future__ import annotations

from pyldirectord.checks.base import Target


def missing_settings_reason(target: Target) -> str:
    return (
        "Error: Must specify a login and request string for MySQL, Oracle and PostgreSQL "
        f"checks. Not adding {target.ip}."
    )
