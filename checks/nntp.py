"""service=nntp: connect, wait for the greeting, up iff its first byte is ``2`` (spec 4.3).

The reference's connect ignored the timeout (a ``TimeOut`` typo); here the whole exchange is
bounded by the negotiate timeout.
"""

from __future__ import annotations

import asyncio
import contextlib

from pyldirectord.checks.base import CheckResult, CheckSpec, Outcome, Target, bounded

GREETING_LIMIT = 64  # the reference reads at most 64 bytes


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    return await bounded(spec.negotiatetimeout, lambda: _greeting(target))


async def _greeting(target: Target) -> Outcome:
    reader, writer = await asyncio.open_connection(target.ip, target.port)
    try:
        greeting = await reader.read(GREETING_LIMIT)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    line = greeting.decode("latin-1").splitlines()[0] if greeting else ""
    if not greeting:
        return False, "connection closed without a greeting"
    if greeting.startswith(b"2"):
        return True, line
    return False, f"greeting {line!r}"
