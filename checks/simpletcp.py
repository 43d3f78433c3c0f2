"""service=simpletcp: send the request, half-close, read lines to EOF, match receive (spec 4.3)."""

from __future__ import annotations

import asyncio
import contextlib

from pyldirectord.checks.base import (
    CheckResult,
    CheckSpec,
    Outcome,
    Target,
    bounded,
    read_bounded,
)
from pyldirectord.checks.receive import search_bytes
from pyldirectord.config.receive import ReceiveError, compile_bytes


def payload(request: str) -> bytes:
    """The reference drops the first character (the parser's ``/``) and turns ``\\n`` into LF."""
    return request[1:].replace("\\n", "\n").encode("utf-8", "surrogateescape")


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    return await bounded(spec.negotiatetimeout, lambda: _exchange(target, spec))


async def _exchange(target: Target, spec: CheckSpec) -> Outcome:
    try:
        compile_bytes(spec.receive)
    except ReceiveError as err:
        return False, str(err)
    reader, writer = await asyncio.open_connection(target.ip, target.port)
    try:
        writer.write(payload(spec.request))
        await writer.drain()
        writer.write_eof()
        reply = await read_bounded(reader)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    lines = reply.splitlines()
    # An empty receive matches any line (the reference reused Perl's last successful pattern).
    try:
        matched = await search_bytes(spec.receive, *lines)
    except ReceiveError as err:
        return False, str(err)
    if matched:
        return True, "receive matched"
    if not lines:
        return False, "no reply"
    return False, f"receive {spec.receive!r} not found in {len(lines)} line(s)"
