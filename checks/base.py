"""Check-side data types: what a check is asked (Target, CheckSpec) and what it answers.

A check never raises for a server's failure: refused, reset, timeout, TLS error, bad status,
regex miss all come back as ``CheckResult(ok=False, reason=...)``. Whatever still raises (a
library's error on a reply nobody foresaw) is caught by the prober, the one layer every check
passes through, and becomes that check's DOWN verdict (docs/design.md, "Containment").
These types are plain values with no config imports, so the director maps its Config onto them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import ssl
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

# Every body or line a check reads stops here: a misbehaving real cannot make us buffer more.
BODY_LIMIT = 64 * 1024

Protocol = Literal["tcp", "udp", "fwm"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    reason: str
    elapsed: float


@dataclass(frozen=True, slots=True)
class Target:
    """Where a check goes.

    ``ip``/``port`` are the real's address and its check port (checkport, else the real's port,
    else the service's port). The virtual_* and real_port fields only feed external checks,
    which get the real's configured port, never checkport (as the reference does).
    """

    ip: str
    port: int
    virtual_ip: str = ""
    virtual_port: int = 0
    fwmark: int | None = None
    real_port: int = 0

    @property
    def family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if ":" in self.ip else socket.AF_INET

    @property
    def host(self) -> str:
        """The real's address as it goes in a URL or a Host header: IPv6 bracketed."""
        return bracket(self.ip)


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """How to check one real, as the resolved virtual block says (spec 2.9, 4.3).

    Both timeouts are the resolved ones of spec 2.9 (virtual, then global, then defaults):
    connect, ping and external checks use ``checktimeout``; negotiate checks use
    ``negotiatetimeout``, so the two halves of ``checktype=N`` share one spec. ``request`` is
    the raw configured value (leading ``/`` included); each check strips it as the reference.
    """

    checktype: str = "negotiate"
    service: str = "none"
    protocol: Protocol = "tcp"
    checktimeout: float = 5.0
    negotiatetimeout: float = 30.0
    request: str = "/"
    receive: str = ""
    virtualhost: str = ""
    httpmethod: Literal["GET", "HEAD"] = "GET"
    login: str = ""
    passwd: str = ""
    database: str = ""
    secret: str = ""  # radius: the shared secret
    checkcount: int = 1
    checkcommand: str = ""
    # The request/receive came from the real= line: an absolute URL there is used as is (4.3).
    per_real_request: bool = False
    # Verify the HTTPS certificate and host name (the reference never does).
    verify_tls: bool = False
    # Grace between SIGTERM and SIGKILL for a timed-out external check.
    kill_grace: float = 1.0


CheckFn = Callable[[Target, CheckSpec], Awaitable[CheckResult]]

# What a check's I/O concludes, before ``bounded`` adds the elapsed time: (up?, reason).
Outcome = tuple[bool, str]


class ByteSource(typing.Protocol):
    """A stream to read a reply from: asyncio's and aiohttp's StreamReader both are."""

    async def read(self, n: int = -1) -> bytes: ...


async def read_bounded(source: ByteSource, limit: int = BODY_LIMIT) -> bytes:
    """At most ``limit`` bytes, up to EOF; the rest is never read (the caller closes)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await source.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def bracket(ip: str) -> str:
    return f"[{ip}]" if ":" in ip and not ip.startswith("[") else ip


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def strip_slash(request: str) -> str:
    """The parser's leading ``/`` is removed by every check that uses the request (spec 4.3)."""
    return request[1:] if request.startswith("/") else request


def timeout_reason(timeout: float) -> str:
    return f"timeout after {timeout:g}s"


def os_error_reason(err: OSError) -> str:
    """``Connection refused`` rather than ``[Errno 111] Connect call failed ('127.0.0.1', 1)``."""
    if isinstance(err, ssl.SSLError):
        return f"TLS handshake failed: {err.reason or err}"
    # asyncio replaces strerror by "Connect call failed (addr)"; the errno says it plainly.
    if err.errno:
        return os.strerror(err.errno)
    return err.strerror or str(err) or type(err).__name__


async def bounded(timeout: float, attempt: Callable[[], Awaitable[Outcome]]) -> CheckResult:
    """Run one check's I/O under its timeout and turn every server failure into a result.

    The clock starts here, when the I/O is issued, so time spent queued is never counted. The
    deadline forgives the director's own lateness (``ForgivingDeadline``).
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        async with asyncio.timeout(None) as scope:
            deadline = ForgivingDeadline(loop, scope, start + timeout, timeout)
            try:
                ok, reason = await attempt()
            finally:
                deadline.cancel()
    except TimeoutError:
        ok, reason = False, timeout_reason(timeout)
    except OSError as err:
        ok, reason = False, os_error_reason(err)
    return CheckResult(ok, reason, loop.time() - start)


# A deadline that fires later than this found the event loop busy with other work.
LATE_GRACE = 0.05


class ForgivingDeadline:
    """Expires an ``asyncio.timeout(None)`` scope at ``when``, unless the director was late.

    On a busy loop a deadline's timer and the server's answer become ready in the same loop
    pass, and a plain timeout cancels the check even though the answer is already there:
    a healthy real is failed for the director's delay (`make bench` saw healthy reals quiesced
    by a saturated director). A deadline that fires late is therefore pushed back once, by as
    long as it was late (at most ``extension_cap``): the loop passes in between read whatever
    had arrived. A real that still has not answered then fails, as it should: under overload
    a dead real is found a little later, never missed, and a live one is not failed.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, scope: asyncio.Timeout, when: float,
        extension_cap: float,
    ) -> None:  # fmt: skip
        self._loop, self._scope, self._cap = loop, scope, extension_cap
        self._extended = False
        self._handle = loop.call_at(when, self._fire, when)

    def _fire(self, when: float) -> None:
        now = self._loop.time()
        late = now - when
        if late > LATE_GRACE and not self._extended:
            self._extended = True
            again = now + min(late, self._cap)
            self._handle = self._loop.call_at(again, self._fire, again)
            return
        # Expire through asyncio's own scope: it cancels the task one loop pass from now and
        # turns the cancellation into TimeoutError (an outside cancel stays a cancel).
        self._scope.reschedule(now)

    def cancel(self) -> None:
        self._handle.cancel()
