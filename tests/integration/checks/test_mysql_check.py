"""mysql negotiate check against a real MariaDB (passwords checked: no skip-grant-tables)."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator

import pytest
from leaks import no_leaks
from mariadb_server import MariaDB, mariadb_fixture  # noqa: F401  (provides `mariadb`)

from pyldirectord.checks import mysql
from pyldirectord.checks.base import CheckSpec, Target

pytestmark = pytest.mark.mysql


def spec(**kwargs: object) -> CheckSpec:
    values: dict[str, object] = {
        "service": "mysql",
        "negotiatetimeout": 5.0,
        "login": "checker",
        "passwd": "s3cret",
        "database": "shop",
        "request": "/SELECT id FROM health",
        **kwargs,
    }
    return CheckSpec(**values)  # type: ignore[arg-type]


async def test_query_with_rows_is_up(mariadb: MariaDB) -> None:
    async with no_leaks():
        result = await mysql.check(Target("127.0.0.1", mariadb.port), spec())
    assert (result.ok, result.reason) == (True, "query returned rows")


async def test_zero_rows_is_down(mariadb: MariaDB) -> None:
    async with no_leaks():
        result = await mysql.check(
            Target("127.0.0.1", mariadb.port), spec(request="/SELECT id FROM empty")
        )
    assert (result.ok, result.reason) == (False, "query returned no rows")


async def test_bad_password_is_down(mariadb: MariaDB) -> None:
    async with no_leaks():
        result = await mysql.check(Target("127.0.0.1", mariadb.port), spec(passwd="wrong"))
    assert not result.ok
    assert result.reason == (
        "MySQL error 1045: Access denied for user 'checker'@'127.0.0.1' (using password: YES)"
    )


async def test_unknown_database_is_down(mariadb: MariaDB) -> None:
    result = await mysql.check(Target("127.0.0.1", mariadb.port), spec(database="nope"))
    assert not result.ok
    assert result.reason.startswith("MySQL error 1044: Access denied for user 'checker'")


async def test_query_error_is_down(mariadb: MariaDB) -> None:
    result = await mysql.check(Target("127.0.0.1", mariadb.port), spec(request="/SELECT x FROM y"))
    assert (result.ok, result.reason) == (False, "MySQL error 1146: Table 'shop.y' doesn't exist")


async def test_missing_login_or_request_uses_the_reference_text() -> None:
    expected = (
        "Error: Must specify a login and request string for MySQL, Oracle and PostgreSQL "
        "checks. Not adding 127.0.0.1."
    )
    no_login = await mysql.check(Target("127.0.0.1", 1), spec(login=""))
    no_request = await mysql.check(Target("127.0.0.1", 1), spec(request="/"))
    assert (no_login.ok, no_login.reason) == (False, expected)
    assert (no_request.ok, no_request.reason) == (False, expected)


async def test_server_not_running_is_down() -> None:
    """Nothing listens on the port (a server that was shut down): refused, quickly."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    result = await mysql.check(Target("127.0.0.1", port), spec())
    assert not result.ok
    assert result.reason.startswith(
        "MySQL error 2003: Can't connect to MySQL server on '127.0.0.1'"
    )


@pytest.fixture
def silent_listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        yield int(sock.getsockname()[1])


async def test_hung_server_is_bounded_by_the_timeout(silent_listener: int) -> None:
    """The reference had no timeout here: a database that never greets froze the daemon."""
    async with no_leaks():
        result = await mysql.check(Target("127.0.0.1", silent_listener), spec(negotiatetimeout=0.5))
    assert (result.ok, result.reason) == (False, "timeout after 0.5s")
    assert result.elapsed < 4.0  # generous: only catches a missing bound (loaded CI)


async def test_frozen_server_is_down_within_the_timeout(mariadb: MariaDB) -> None:
    """SIGSTOP the real mariadbd: the kernel still accepts, the server never answers."""
    os.kill(mariadb.process.pid, signal.SIGSTOP)
    try:
        result = await mysql.check(Target("127.0.0.1", mariadb.port), spec(negotiatetimeout=0.5))
    finally:
        os.kill(mariadb.process.pid, signal.SIGCONT)
    assert (result.ok, result.reason) == (False, "timeout after 0.5s")
    after = await mysql.check(Target("127.0.0.1", mariadb.port), spec())
    assert after.ok
