"""Starting and stopping the real servers the negotiate checks are tested against.

Each server runs from its Debian binary with a private config, data directory and port on
127.0.0.1, in the foreground as a child of the test run, never the system instance its
package may have started. A missing binary fails the test: `make apt` installs them all.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

START_DEADLINE = 60.0  # generous: only catches a server that will never come up


def require(*binaries: str) -> None:
    for binary in binaries:
        if not (Path(binary).is_file() and os.access(binary, os.X_OK)):
            pytest.fail(f"{binary} is not installed: run `make apt`")


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port free for both TCP and UDP (kamailio and freeradius listen on both kinds)."""
    while True:
        with socket.socket(type=kind) as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
            with socket.socket(type=other) as second:
                try:
                    second.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


@dataclass
class Daemon:
    """A server process started in its own process group (so its workers stop with it)."""

    name: str
    argv: Sequence[str]
    log: Path
    port: int  # started once this port is open (TCP) or bound (UDP)
    ready: socket.SocketKind = socket.SOCK_STREAM
    env: dict[str, str] | None = None
    user: str | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def pids(self) -> list[int]:
        """The server's process (its workers are its descendants), for ``no_leaks``."""
        return [] if self.process is None else [self.process.pid]

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                list(self.argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, user=self.user, start_new_session=True,
            )  # fmt: skip
        try:
            self._wait_for(self.ready, self.port)
        except BaseException:
            self.stop()
            raise

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """The server is down inside (its port closed), and back up after."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def _wait_for(self, ready: socket.SocketKind, port: int) -> None:
        deadline = time.monotonic() + START_DEADLINE
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: "
                                   f"{self.log.read_text(errors='replace')[-2000:]}")  # fmt: skip
            if ready == socket.SOCK_STREAM and _accepts(port):
                return
            if ready == socket.SOCK_DGRAM and _udp_bound(port):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not listen on {port} within {START_DEADLINE:g} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _udp_bound(port: int) -> bool:
    """Someone holds the UDP port (our own bind fails), so the server has opened it."""
    with socket.socket(type=socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def run(argv: Sequence[str], **kwargs: object) -> None:
    """A set-up command; its output is shown when it fails."""
    result = subprocess.run(list(argv), capture_output=True, timeout=120, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({result.returncode}): "
                           f"{result.stdout.decode(errors='replace')}"
                           f"{result.stderr.decode(errors='replace')}")  # fmt: skip
