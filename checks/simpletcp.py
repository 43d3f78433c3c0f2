"""service=simpletcp: send the request, read the reply's lines, up iff one matches receive.

Over TCP (spec 4.3): send, half-close, read lines to EOF. On a UDP virtual the reference used
a UDP socket the same way: the request is one datagram, and the check is up as soon as a line
of a reply datagram matches; datagrams that do not match are dropped and the check waits for
another until its timeout (the reference read until an EOF that UDP never brings).
"""

from __future__ import annotations

import asyncio
import contextlib

from pyldirectord.checks import datagram
from pyldirectord.checks.base import (
    CheckResult,
    CheckSpec,
    Outcome,
    Target,
    bounded,
    read_bounded,
)
from pyldirectord.checks.receive import search_bytes, search_bytes_now
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
    if spec.protocol == "udp":
        return await datagram.exchange(
            target, lambda local: payload(spec.request), lambda reply: _judge(spec.receive, reply)
        )
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


def _judge(receive: str, reply: bytes) -> Outcome | None:
    """One reply datagram: up if a line matches, else keep waiting (None)."""
    try:
        matched = search_bytes_now(receive, *reply.splitlines())
    except ReceiveError as err:
        return False, str(err)
    return (True, "receive matched") if matched else None
