"""A real MariaDB for the mysql check: temp datadir, free port on 127.0.0.1, its own socket."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "/usr/bin/mariadb-install-db"
CLIENT = "/usr/bin/mariadb"


@dataclass(frozen=True)
class MariaDB:
    port: int
    socket: str
    process: subprocess.Popen[bytes]

    def sql(self, statement: str) -> None:
        """Run admin SQL as root over the unix socket (root has no password there)."""
        subprocess.run(
            [CLIENT, "--no-defaults", f"--socket={self.socket}", "-uroot", "-e", statement],
            check=True,
            capture_output=True,
            timeout=30,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mariadbd exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("mariadbd did not listen within 60 s")


@pytest.fixture(scope="session", name="mariadb")
def mariadb_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    if not Path(MARIADBD).exists():
        pytest.fail("MariaDB is not installed: run `make apt`")
    base = tmp_path_factory.mktemp("mariadb")
    datadir, sock = base / "data", str(base / "mysqld.sock")
    subprocess.run(
        [INSTALL_DB, "--no-defaults", f"--datadir={datadir}", "--user=root",
         "--auth-root-authentication-method=normal", "--skip-test-db"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    port = free_port()
    process = subprocess.Popen(
        [MARIADBD, "--no-defaults", f"--datadir={datadir}", "--user=root",
         f"--port={port}", "--bind-address=127.0.0.1", f"--socket={sock}",
         f"--pid-file={base / 'mysqld.pid'}", f"--log-error={base / 'error.log'}",
         "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=4M",
         "--skip-name-resolve", "--performance-schema=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port, process, time.monotonic() + 60)
        server = MariaDB(port, sock, process)
        server.sql(
            "CREATE DATABASE shop; CREATE TABLE shop.health (id INT); "
            "INSERT INTO shop.health VALUES (1), (2); CREATE TABLE shop.empty (id INT); "
            "CREATE USER 'checker'@'127.0.0.1' IDENTIFIED BY 's3cret'; "
            "GRANT SELECT ON shop.* TO 'checker'@'127.0.0.1';"
        )
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(base, ignore_errors=True)
