"""service=mysql: log in, run the request, up iff it returns at least one row (spec 4.3).

Unlike the reference, the connect and the query run under the negotiate timeout (a hung
database no longer freezes the director), and the statement runs once, not twice.
"""

from __future__ import annotations

import aiomysql

from pyldirectord.checks.base import CheckResult, CheckSpec, Outcome, Target, bounded, strip_slash


def missing_settings_reason(target: Target) -> str:
    return (
        "Error: Must specify a login and request string for MySQL, Oracle and PostgreSQL "
        f"checks. Not adding {target.ip}."
    )


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    return await bounded(spec.negotiatetimeout, lambda: _query(target, spec))


async def _query(target: Target, spec: CheckSpec) -> Outcome:
    query = strip_slash(spec.request)
    if not spec.login or not query:
        return False, missing_settings_reason(target)
    try:
        connection = await aiomysql.connect(
            host=target.ip,
            port=target.port,
            user=spec.login,
            password=spec.passwd,
            db=spec.database or None,
            connect_timeout=spec.negotiatetimeout,
            cursorclass=aiomysql.SSCursor,  # unbuffered: we read one row, never the table
        )
    except aiomysql.MySQLError as err:
        return False, _mysql_reason(err)
    try:
        async with connection.cursor() as cursor:
            await cursor.execute(query)
            row = await cursor.fetchone()
    except aiomysql.MySQLError as err:
        return False, _mysql_reason(err)
    finally:
        connection.close()  # abrupt on purpose: an unread result set is not drained
    return (True, "query returned rows") if row is not None else (False, "query returned no rows")


def _mysql_reason(err: Exception) -> str:
    if len(err.args) >= 2:
        return f"MySQL error {err.args[0]}: {err.args[1]}"
    return f"MySQL error: {err}"
