"""service=pgsql: log in, run the request, up iff it returns at least one row (spec 4.3).

asyncpg (asyncio). As mysql: login and request are required (else the reference's error
text), ``database`` is the database (empty: the server's default, the login's name), and
unlike the reference the connect and the query run under the negotiate timeout, once, with
one row fetched.
"""

from __future__ import annotations

import asyncpg

from pyldirectord.checks.base import (
    CheckResult,
    CheckSpec,
    Outcome,
    Target,
    bounded,
    strip_slash,
)
from pyldirectord.checks.sql import missing_settings_reason


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    return await bounded(spec.negotiatetimeout, lambda: _query(target, spec))


async def _query(target: Target, spec: CheckSpec) -> Outcome:
    query = strip_slash(spec.request)
    if not spec.login or not query:
        return False, missing_settings_reason(target)
    try:
        connection = await asyncpg.connect(
            host=target.ip,
            port=target.port,
            user=spec.login,
            password=spec.passwd,
            database=spec.database or None,
            timeout=spec.negotiatetimeout,
        )
    except (OSError, TimeoutError):
        raise  # bounded() words these
    except Exception as err:  # asyncpg's errors, or a server that is not PostgreSQL
        return False, _reason(err)
    try:
        row = await connection.fetchrow(query)
        await connection.close()
    except (OSError, TimeoutError):
        raise
    except Exception as err:
        return False, _reason(err)
    finally:
        if not connection.is_closed():
            connection.terminate()
    return (True, "query returned rows") if row is not None else (False, "query returned no rows")


def _reason(err: Exception) -> str:
    if isinstance(err, asyncpg.PostgresError):
        return f"PostgreSQL error {err.sqlstate}: {err}"
    return f"PostgreSQL: {type(err).__name__}: {err}".rstrip(": ")
