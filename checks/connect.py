"""checktype=connect: a TCP connect to the real's check port, then close; no data (spec 4.2).

UDP virtuals are checked by ping instead, as ldirectord does; the registry routes that.

The check is a ``Flight`` (checks/engine.py): a bare non-blocking socket, its connect
watched on the engine's epoll set, closed as soon as the connect completes. No transport,
stream, Task or timer is built for it: the syscalls are socket, connect, epoll_ctl and close
(and getsockopt on a failure only, to say why).
"""

from __future__ import annotations

import errno
import os
import select
import socket

from pyldirectord.checks.base import CheckResult, CheckSpec, Target
from pyldirectord.checks.engine import Flight, run_flight

_NONBLOCKING_STREAM = socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
_FAILED = select.EPOLLERR | select.EPOLLHUP
_IN_PROGRESS = frozenset({errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY})


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    return await run_flight(ConnectFlight(target), spec.checktimeout)


def connect_reason(code: int) -> str:
    """``Connection refused``, as the coroutine checks word an OSError (base.os_error_reason)."""
    return os.strerror(code) if code else "connection closed"


def start_connect(target: Target) -> tuple[socket.socket | None, int]:
    """A non-blocking socket with its connect issued: (socket, 0) in progress or connected,
    (None, errno) when the connect failed at once (the socket is closed then)."""
    family = socket.AF_INET6 if ":" in target.ip else socket.AF_INET
    sock = socket.socket(family, _NONBLOCKING_STREAM)
    code = sock.connect_ex((target.ip, target.port))
    if code and code not in _IN_PROGRESS:
        sock.close()
        return None, code
    return sock, 0


def connect_failure(sock: socket.socket, events: int) -> int:
    """0 when the watched connect succeeded, else its errno (read only on a failure)."""
    if not events & _FAILED:
        return 0
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) or errno.ECONNRESET


class ConnectFlight(Flight):
    __slots__ = ("_sock", "target")

    def __init__(self, target: Target) -> None:
        self.target = target
        self._sock: socket.socket | None = None

    def begin(self) -> None:
        if self.target.port <= 0:
            # ld_checkport has no port for this real (fwmark real, service none): it fails.
            self.finish(False, "no check port")
            return
        self._sock, code = start_connect(self.target)
        if self._sock is None:
            self.finish(False, connect_reason(code))
            return
        self.watch(self._sock.fileno(), select.EPOLLOUT)

    def on_ready(self, events: int) -> None:
        assert self._sock is not None
        code = connect_failure(self._sock, events)
        self.finish(code == 0, "connected" if code == 0 else connect_reason(code))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
