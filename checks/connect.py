"""checktype=connect: a TCP connect to the real's check port, then close; no data (spec 4.2).

UDP virtuals are checked by ping instead, as ldirectord does; the registry routes that.
"""

from __future__ import annotations

import asyncio
import socket

from pyldirectord.checks.base import CheckResult, CheckSpec, Outcome, Target, bounded


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    return await bounded(spec.checktimeout, lambda: _connect(target))


async def _connect(target: Target) -> Outcome:
    if target.port <= 0:
        # ld_checkport has no port for this real (fwmark real, service none): connect fails.
        return False, "no check port"
    # A bare non-blocking socket, not open_connection: no transport, stream or protocol is
    # built only to be closed. `make bench` measured the streams path at about half of a
    # 1,000-real director's CPU in the sandbox. The socket closes on timeout too.
    family = socket.AF_INET6 if ":" in target.ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (target.ip, target.port))
    return True, "connected"
