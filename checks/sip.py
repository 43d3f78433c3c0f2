"""service=sip: an OPTIONS request over the virtual's protocol; up iff ``SIP/2.0 200 OK``.

No maintained asyncio SIP client exists, and the check is one request: it is written here as
the reference writes it (spec 4.3): ``OPTIONS sip:<login>``, To/From/Contact ``<sip:<login>>``,
Via naming our address and port, Max-Forwards 70, CSeq 63104, ``Accept: application/sdp``,
no body. Up iff the reply's status line starts with ``SIP/2.0 200 OK``. Over TCP the reply is
read up to its blank line, at most ``BODY_LIMIT`` bytes.

Deliberate differences: Via names the transport actually used, as RFC 3261 requires (the
reference always wrote UDP; Kamailio tolerates that, a strict server need not), and the
branch and tag are random per request (the reference's constants let a stateful server take
every check after the first for a retransmission of the first).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets

from pyldirectord.checks.base import (
    BODY_LIMIT,
    CheckResult,
    CheckSpec,
    Outcome,
    Target,
    bounded,
    bracket,
)
from pyldirectord.checks.datagram import exchange

OK = b"SIP/2.0 200 OK"


def options_request(login: str, transport: str, local: tuple[str, int]) -> bytes:
    host, port = local
    lines = [
        f"OPTIONS sip:{login} SIP/2.0",
        f"Via: SIP/2.0/{transport} {bracket(host)}:{port};branch=z9hG4bK{secrets.token_hex(8)}",
        "Max-Forwards: 70",
        f"To: <sip:{login}>",
        f"From: <sip:{login}>;tag={secrets.token_hex(5)}",
        f"Call-ID: {secrets.token_hex(8)}",
        "CSeq: 63104 OPTIONS",
        f"Contact: <sip:{login}>",
        "Accept: application/sdp",
        "Content-Length: 0",
        "",
        "",
    ]
    return "\r\n".join(lines).encode("utf-8", "surrogateescape")


def judge_status(status_line: bytes) -> Outcome:
    line = status_line.rstrip(b"\r\n").decode("utf-8", "replace")
    if not line:
        return False, "no reply"
    return status_line.startswith(OK), line


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    if spec.protocol == "udp":
        return await bounded(spec.negotiatetimeout, lambda: _over_udp(target, spec))
    return await bounded(spec.negotiatetimeout, lambda: _over_tcp(target, spec))


async def _over_udp(target: Target, spec: CheckSpec) -> Outcome:
    return await exchange(
        target,
        lambda local: options_request(spec.login, "UDP", local),
        lambda reply: judge_status(reply.split(b"\n", 1)[0]),
    )


async def _over_tcp(target: Target, spec: CheckSpec) -> Outcome:
    reader, writer = await asyncio.open_connection(target.ip, target.port, limit=BODY_LIMIT)
    try:
        local = writer.get_extra_info("sockname")
        writer.write(options_request(spec.login, "TCP", (str(local[0]), int(local[1]))))
        await writer.drain()
        status = await _read_line(reader)
        outcome = judge_status(status)
        if outcome[0]:
            # As the reference: the reply is read up to its blank line (bounded in bytes).
            read = len(status)
            while line := await _read_line(reader):
                read += len(line)
                if line in (b"\r\n", b"\n") or read > BODY_LIMIT:
                    break
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return outcome


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readline()
    except ValueError:  # a line longer than the reader's limit (BODY_LIMIT)
        raise ConnectionError(f"reply line longer than {BODY_LIMIT} bytes") from None
