"""pgsql negotiate check against a real PostgreSQL (spec 4.3): log in, query, rows."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

from leaks import no_leaks
from pg_server import DATABASE, LOGIN, PASSWD, Postgres, postgres_fixture  # noqa: F401
from probe_config import probe_text, states

from pyldirectord.checks import pgsql
from pyldirectord.checks.base import CheckSpec, Target


def spec(**kwargs: object) -> CheckSpec:
    values: dict[str, object] = {
        "service": "pgsql", "negotiatetimeout": 10.0, "login": LOGIN, "passwd": PASSWD,
        "database": DATABASE, "request": "/SELECT id FROM health", **kwargs,
    }  # fmt: skip
    return CheckSpec(**values)  # type: ignore[arg-type]


async def run(postgres: Postgres, **kwargs: object) -> tuple[bool, str]:
    result = await pgsql.check(Target("127.0.0.1", postgres.port), spec(**kwargs))
    return result.ok, result.reason


async def test_query_with_rows_is_up(postgres: Postgres) -> None:
    async with no_leaks(servers=postgres.daemon.pids):
        assert await run(postgres) == (True, "query returned rows")


async def test_zero_rows_is_down(postgres: Postgres) -> None:
    assert await run(postgres, request="/SELECT id FROM empty") == (False, "query returned no rows")


async def test_bad_password_is_down(postgres: Postgres) -> None:
    assert await run(postgres, passwd="wrong") == (
        False, 'PostgreSQL error 28P01: password authentication failed for user "checker"'
    )  # fmt: skip


async def test_query_error_is_down(postgres: Postgres) -> None:
    assert await run(postgres, request="/SELECT x FROM nope") == (
        False, 'PostgreSQL error 42P01: relation "nope" does not exist'
    )  # fmt: skip


async def test_missing_login_or_request_uses_the_reference_text(postgres: Postgres) -> None:
    expected = (
        "Error: Must specify a login and request string for MySQL, Oracle and PostgreSQL "
        "checks. Not adding 127.0.0.1."
    )
    assert await run(postgres, login="") == (False, expected)
    assert await run(postgres, request="/") == (False, expected)


async def test_server_stopped_is_down(postgres: Postgres) -> None:
    with postgres.daemon.stopped():
        outcome = await run(postgres)
    assert outcome == (False, "Connection refused")
    assert (await run(postgres))[0]


async def test_frozen_server_is_down_within_the_timeout(postgres: Postgres) -> None:
    """The reference had no timeout for SQL: a hung database froze the daemon."""
    assert postgres.daemon.process is not None
    os.kill(postgres.daemon.process.pid, signal.SIGSTOP)
    try:
        outcome = await run(postgres, negotiatetimeout=0.5)
    finally:
        os.kill(postgres.daemon.process.pid, signal.SIGCONT)
    assert outcome == (False, "timeout after 0.5s")


async def test_a_server_that_is_not_postgresql_is_down() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        target = Target("127.0.0.1", int(sock.getsockname()[1]))
        result = await pgsql.check(target, spec(negotiatetimeout=0.5))
    assert (result.ok, result.reason) == (False, "timeout after 0.5s")


async def test_probe_of_a_pgsql_virtual(postgres: Postgres, tmp_path: Path) -> None:
    lines = await probe_text(tmp_path, (
        f"virtual=127.0.0.1:5432\n\treal=127.0.0.1:{postgres.port} masq\n"
        f'\tlogin="{LOGIN}"\n\tpasswd="{PASSWD}"\n\tdatabase="{DATABASE}"\n'
        '\trequest="SELECT id FROM health"\n'))  # fmt: skip
    assert states(lines) == [("negotiate:pgsql", True, "query returned rows")]
