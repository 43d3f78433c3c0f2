"""Become a daemon, and let the invoking process exit only once the daemon is really there.

The reference forks twice and its first parent exits 0 at once, leaving an empty pid file that
systemd (Type=forking) or the OCF agent's immediate ``status`` can read. Here the daemon reports
over a pipe once it holds its pid file lock and has written its pid (or why it could not), and
the invoking process waits for that report, with a bound, before it exits.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

_READY = b"ready\n"
_FAILED = b"failed "


@dataclass(frozen=True, slots=True)
class StartReport:
    ready: bool
    message: str  # empty when ready


class Notifier:
    """The daemon's end of the pipe; it reports exactly once."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def ready(self) -> None:
        self._send(_READY)

    def failed(self, message: str) -> None:
        self._send(_FAILED + message.encode("utf-8", "replace").replace(b"\n", b" ") + b"\n")

    def _send(self, payload: bytes) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):  # the invoker gave up waiting; carry on regardless
            os.write(self._fd, payload)
        os.close(self._fd)
        self._fd = None


def _detach_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)
    if null > 2:
        os.close(null)


def _become_daemon(write_end: int, body: Callable[[Notifier], int]) -> None:
    """Runs in the first child and never returns."""
    code = 1
    try:
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        os.chdir("/")
        _detach_stdio()
        code = body(Notifier(write_end))
    finally:
        # Never fall back into the invoker's code path (or a test runner's) from a child.
        sys.stdout.flush()
        os._exit(code)


def _read_report(read_end: int, timeout: float) -> StartReport:
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([read_end], [], [], remaining)[0]:
            return StartReport(False, f"the daemon did not report ready within {timeout:g} s")
        chunk = os.read(read_end, 4096)
        if not chunk:
            return StartReport(False, "the daemon exited before it was ready")
        data += chunk
    if data == _READY:
        return StartReport(True, "")
    return StartReport(False, data.removeprefix(_FAILED).decode("utf-8", "replace").strip())


def spawn_daemon(body: Callable[[Notifier], int], *, timeout: float) -> StartReport:
    """Fork, setsid, fork again, chdir /, stdio to /dev/null; run ``body`` in the grandchild.

    ``body`` must call ``notifier.ready()`` or ``notifier.failed(msg)`` and returns the daemon's
    exit status. In the invoking process this returns the daemon's report.
    """
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        _become_daemon(write_end, body)
    os.close(write_end)
    try:
        os.waitpid(child, 0)  # the first child exits as soon as the grandchild exists
        return _read_report(read_end, timeout)
    finally:
        os.close(read_end)
