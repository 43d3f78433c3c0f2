"""The mysql check against a fake, hostile MySQL server on loopback: a truncated handshake is
DOWN with a reason, and a server streaming 16 MB packets cannot make the checker buffer them
(its peak RSS, measured in a child process that runs only the check, stays under 100 MB)."""

from __future__ import annotations

import asyncio
import json
import sys

from hostile import hostile_server
from leaks import no_leaks

from pyldirectord.checks import mysql
from pyldirectord.checks.base import CheckSpec, Target

DEADLINE = 30.0
MEGABYTE = 1024 * 1024
SPEC = CheckSpec(
    service="mysql", negotiatetimeout=10.0, login="checker", passwd="x", request="/SELECT 1"
)


def packet(payload: bytes, number: int = 0) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([number]) + payload


async def truncated_handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # Protocol 10 and a server version, then nothing: no thread id, salt or capabilities.
    writer.write(packet(b"\x0a5.5.5-hostile\x00"))
    await writer.drain()
    await reader.read()


async def endless_16mb_packets(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Maximal packets (length 0xffffff: "continued"), one after another, until hung up on."""
    zeros = bytes(MEGABYTE)
    for number in range(256):  # 4 GB at most; the check hangs up long before
        writer.write(b"\xff\xff\xff" + bytes([number]))
        for size in [MEGABYTE] * 15 + [MEGABYTE - 1]:  # 0xffffff bytes of payload
            writer.write(zeros[:size])
            await writer.drain()


async def test_truncated_handshake_is_down_with_a_reason() -> None:
    async with hostile_server(truncated_handshake) as port, no_leaks():
        async with asyncio.timeout(DEADLINE):
            result = await mysql.check(Target("127.0.0.1", port), SPEC)
    assert not result.ok
    assert result.reason.startswith("MySQL: malformed reply from the server (error:")


async def test_16mb_packets_are_refused_before_they_are_buffered() -> None:
    async with hostile_server(endless_16mb_packets) as port:
        async with asyncio.timeout(DEADLINE):
            result = await mysql.check(Target("127.0.0.1", port), SPEC)
    assert not result.ok
    assert result.reason == (
        "MySQL error 2020: server sent a packet of 16777215 bytes (the limit is 1048576)"
    )


CHILD = """
import asyncio, json, sys
from pyldirectord.checks import mysql
from pyldirectord.checks.base import CheckSpec, Target

spec = CheckSpec(service="mysql", negotiatetimeout=10.0, login="checker", passwd="x",
                 request="/SELECT 1")
result = asyncio.run(mysql.check(Target("127.0.0.1", int(sys.argv[1])), spec))
# VmHWM, this process image's peak RSS: ru_maxrss would carry the forking parent's (pytest's)
# RSS over the exec, a hundred MB in a full test run.
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))  # KiB
print(json.dumps({"ok": result.ok, "reason": result.reason, "peak_kib": peak}))
"""


async def test_peak_rss_with_a_16mb_streaming_server_stays_under_100_mb() -> None:
    async with hostile_server(endless_16mb_packets) as port:
        child = await asyncio.create_subprocess_exec(
            # cwd "/": from the checkout, ./pyldirectord would shadow the installed package
            sys.executable,
            "-c",
            CHILD,
            str(port),
            stdout=asyncio.subprocess.PIPE,
            cwd="/",
        )
        async with asyncio.timeout(DEADLINE):
            out, _ = await child.communicate()
    seen = json.loads(out)
    print(f"{seen['reason']}; peak RSS of the checking process: {seen['peak_kib'] / 1024:.1f} MB")
    assert not seen["ok"]
    assert seen["peak_kib"] < 100 * 1024
