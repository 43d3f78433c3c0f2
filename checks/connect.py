"""checktype=connect: a TCP connect to the real's check port, then close; no data (spec 4.2).

UDP virtuals are checked by ping instead, as ldirectord does; the registry routes that.
"""

from __future__ import annotations

import asyncio
import contextlib

from pyldirectord.checks.base import CheckResult, CheckSpec, Outcome, Target, bounded


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    return await bounded(spec.checktimeout, lambda: _connect(target))


async def _connect(target: Target) -> Outcome:
    if target.port <= 0:
        # ld_checkport has no port for this real (fwmark real, service none): connect fails.
        return False, "no check port"
    _, writer = await asyncio.open_connection(target.ip, target.port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, "connected"
