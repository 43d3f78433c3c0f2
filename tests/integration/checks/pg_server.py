"""PostgreSQL for the pgsql check: Debian's initdb and postgres, as the postgres user (it
refuses to run as root), on 127.0.0.1 with password (SCRAM) authentication over TCP."""

from __future__ import annotations

import glob
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from daemons import Daemon, free_port, run

USER = "postgres"
LOGIN, PASSWD, DATABASE = "checker", "s3cret", "shop"


def binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail(f"PostgreSQL's {name} is not installed: run `make apt`")
    return found[-1]


@dataclass(frozen=True)
class Postgres:
    daemon: Daemon
    port: int


@pytest.fixture(scope="session", name="postgres")
def postgres_fixture() -> Iterator[Postgres]:
    initdb, postgres, psql = binary("initdb"), binary("postgres"), binary("psql")
    # Outside pytest's root-only temp tree: the server runs as the postgres user.
    base = Path(tempfile.mkdtemp(prefix="pyldirectord-pgsql-"))
    try:
        shutil.chown(base, USER, USER)
        data = base / "data"
        run([initdb, "-D", str(data), "-U", USER, "--auth-local=trust",
             "--auth-host=scram-sha-256", "--no-sync"], user=USER)  # fmt: skip
        port = free_port()
        daemon = Daemon("postgres", [postgres, "-D", str(data), "-p", str(port), "-k", str(base),
                                     "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                                     "-c", "shared_buffers=16MB"],
                        base / "server.log", port, user=USER)  # fmt: skip
        daemon.start()
        try:
            run([psql, "-h", str(base), "-p", str(port), "-U", USER, "-d", "postgres",
                 "-v", "ON_ERROR_STOP=1", "-c", f"CREATE ROLE {LOGIN} LOGIN PASSWORD '{PASSWD}'",
                 "-c", f"CREATE DATABASE {DATABASE} OWNER {LOGIN}"], user=USER)  # fmt: skip
            tables = ("CREATE TABLE health (id int); INSERT INTO health VALUES (1), (2); "
                      "CREATE TABLE empty (id int);")  # fmt: skip
            run([psql, "-h", str(base), "-p", str(port), "-U", LOGIN, "-d", DATABASE,
                 "-v", "ON_ERROR_STOP=1", "-c", tables], user=USER)  # fmt: skip
            yield Postgres(daemon, port)
        finally:
            daemon.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
