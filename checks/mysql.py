"""service=mysql: log in, run the request, up iff it returns at least one row (spec 4.3).

Unlike the reference, the connect and the query run under the negotiate timeout (a hung
database no longer freezes the director), and the statement runs once, not twice.

Every packet read is bounded: aiomysql has no limit on what it reads (``max_allowed_packet``
only bounds what a client sends), and a hostile server announcing 16 MB packets, continued
forever, drove the director to 1 GB. ``BoundedConnection`` refuses a packet larger than
``PACKET_LIMIT`` before reading its payload. A handshake aiomysql cannot parse (truncated:
``struct.error``, ``IndexError``) is that check's DOWN verdict with a reason.
"""

from __future__ import annotations

import struct
from typing import Any

import aiomysql

from pyldirectord.checks.base import CheckResult, CheckSpec, Outcome, Target, bounded, strip_slash
from pyldirectord.checks.sql import missing_settings_reason

# The largest packet a health check reads: a handshake, an auth exchange and one row of a
# health query fit many times over. A larger one is refused, never buffered.
PACKET_LIMIT = 1024 * 1024
# The client error MySQL's own client gives such a packet (pymysql.constants.CR).
CR_NET_PACKET_TOO_LARGE = 2020
# What aiomysql's parser raises on a reply too short or malformed for its format.
MALFORMED = (struct.error, IndexError, KeyError, ValueError)


class BoundedConnection(aiomysql.Connection):  # type: ignore[misc]
    """aiomysql's connection with a bound on each packet it reads."""

    async def _read_bytes(self, num_bytes: int) -> bytes:
        if num_bytes > PACKET_LIMIT:
            self.close()
            raise aiomysql.OperationalError(
                CR_NET_PACKET_TOO_LARGE,
                f"server sent a packet of {num_bytes} bytes (the limit is {PACKET_LIMIT})",
            )
        data: bytes = await super()._read_bytes(num_bytes)
        return data


async def open_bounded(**kwargs: Any) -> aiomysql.Connection:
    """``aiomysql.connect`` with ``BoundedConnection`` (it has no parameter for the class)."""
    connection = BoundedConnection(**kwargs)
    await connection._connect()
    return connection


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    return await bounded(spec.negotiatetimeout, lambda: _query(target, spec))


async def _query(target: Target, spec: CheckSpec) -> Outcome:
    query = strip_slash(spec.request)
    if not spec.login or not query:
        return False, missing_settings_reason(target)
    try:
        connection = await open_bounded(
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
    except MALFORMED as err:
        return False, malformed_reason(err)
    try:
        async with connection.cursor() as cursor:
            await cursor.execute(query)
            row = await cursor.fetchone()
    except aiomysql.MySQLError as err:
        return False, _mysql_reason(err)
    except MALFORMED as err:
        return False, malformed_reason(err)
    finally:
        connection.close()  # abrupt on purpose: an unread result set is not drained
    return (True, "query returned rows") if row is not None else (False, "query returned no rows")


def malformed_reason(err: Exception) -> str:
    return f"MySQL: malformed reply from the server ({type(err).__name__}: {err})"


def _mysql_reason(err: Exception) -> str:
    if len(err.args) >= 2:
        return f"MySQL error {err.args[0]}: {err.args[1]}"
    return f"MySQL error: {err}"
