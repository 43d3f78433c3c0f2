"""The triggers that once froze a real, replayed against the director (host, in-memory IPVS
table): hostile servers on loopback behind one virtual each. Every real gets a verdict from its
check and leaves or keeps its place in the table; none of them reaches the fault path (the
checks handle each case themselves) and the director's timers run on."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from ipaddress import ip_address
from pathlib import Path

import pytest
from memory_table import ListSink, MemoryTable
from test_director_host import until

from pyldirectord.checks.registry import Checkers
from pyldirectord.config.model import Config, Globals, Real, Virtual
from pyldirectord.core.table import AddressKey, Protocol
from pyldirectord.notify.log import Log
from pyldirectord.runtime.director import Director

VIP = "192.0.2.90"
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def smtp_bare_220(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220\r\n")
    await writer.drain()
    while line := await reader.readline():
        writer.write(b"221 bye\r\n" if line.startswith(b"QUIT") else b"250 ok\r\n")
        await writer.drain()


def redirect_to(location: bytes) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\n"
                     b"Content-Length: 0\r\nConnection: close\r\n\r\n")  # fmt: skip
        await writer.drain()

    return script


async def mysql_truncated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"\x0f\x00\x00\x00\x0a5.5.5-hostile\x00")  # protocol 10, version, then nothing
    await writer.drain()
    await reader.read()


@contextlib.asynccontextmanager
async def serving(script: Script) -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await script(reader, writer)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


def virtual(line: int, port: int, real_port: int, **settings: object) -> Virtual:
    real = Real(line=line + 1, host="127.0.0.1", port=real_port, forward="masq")
    return Virtual(line=line, family=4, protocol="tcp", host=VIP, port=port, reals=(real,),
                   scheduler="rr", **settings)  # type: ignore[arg-type]  # fmt: skip


def weight(memory: MemoryTable, port: int) -> int | None:
    reals = memory.table.reals(AddressKey(Protocol.TCP, ip_address(VIP), port))
    return next((dest.weight for dest in reals.values()), None)


@pytest.fixture
def rt_signal_script(tmp_path: Path) -> str:
    script = tmp_path / "rt-signal.sh"
    script.write_text(f"#!/bin/sh\nkill -{signal.SIGRTMIN + 6} $$\n")
    script.chmod(0o755)
    return str(script)


async def test_each_hostile_trigger_is_a_verdict_in_the_director(rt_signal_script: str) -> None:
    async with (
        serving(smtp_bare_220) as smtp,
        serving(redirect_to(b"http://[::1")) as ipv6,
        serving(redirect_to(b"http://a..b/")) as idna,
        serving(mysql_truncated) as mysql,
    ):
        virtuals = (
            virtual(2, 25, smtp, service="smtp"),
            virtual(5, 80, ipv6, service="http"),
            virtual(8, 81, idna, service="http"),
            virtual(11, 3306, mysql, service="mysql", login="u", passwd="p", request="/SELECT 1"),
            virtual(14, 8080, 9, checktype="external", checkcommand=rt_signal_script),
        )
        settings = Globals(checkinterval=1, checktimeout=5, negotiatetimeout=5, quiescent=True)
        config = Config(path="hostile.cf", globals=settings, virtuals=virtuals)
        memory, sink = MemoryTable(), ListSink()
        async with Checkers() as checkers:
            director = Director(config, memory, checkers, Log(sink))
            await director.start()
            rounds = len(sink.lines)
            # Several rounds of every check: verdicts, never a fault, the timers alive.
            await until(lambda: all(h.last_check is not None for h in director.health.values()))
            checked = {key: h.last_check for key, h in director.health.items()}
            await until(lambda: all(h.last_check != checked[k]
                                    for k, h in director.health.items()))  # fmt: skip
            weights = [weight(memory, port) for port in (25, 80, 81, 3306, 8080)]
            await director.stop()
    reasons = {key: health.reason for key, health in director.health.items()}
    print(*reasons.items(), sep="\n")
    print(*sink.lines[rounds:], sep="\n")
    assert weights[0] == 1  # smtp's bare 220 is up
    assert all(w in (None, 0) for w in weights[1:]), weights  # the others serve no traffic
    assert sorted(reasons.values()) == sorted([
        "220",
        "302 Found, but Location 'http://[::1' is invalid: Invalid IPv6 URL",
        "500 cannot request 'http://a..b/': encoding with 'idna' codec failed "
        "(UnicodeError: label empty or too long)",
        "MySQL: malformed reply from the server (error: unpack requires a buffer of 4 bytes)",
        "killed by signal SIGRTMIN+6",
    ])
    assert director.faults.count == 0
    assert not any("Traceback" in line for line in sink.lines)
