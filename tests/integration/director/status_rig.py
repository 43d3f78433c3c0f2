"""A running director with its observability on, for host tests: real HTTP reals on loopback
(each can be switched to fail), the director with an in-memory IPVS table, and the
Observability parts the daemon wires (metrics, the HTTP status listener, the event log)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web
from memory_table import ListSink, MemoryTable

from pyldirectord.checks.registry import Checkers
from pyldirectord.config.model import Config, Globals, Real, Virtual
from pyldirectord.notify.log import Log
from pyldirectord.notify.observability import Observability
from pyldirectord.runtime.director import Director

DEADLINE = 30.0
VIP = "192.0.2.80"
# What a failing real answers: a status line whose reason is hostile markup, so that every
# page test also shows that server text is escaped.
HOSTILE_REASON = "<script>alert(1)</script>"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Real503:
    """A real HTTP server on 127.0.0.N: "alive" until ``failing`` is set, then 503."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.failing = False
        self._runner: web.AppRunner | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        async def answer(_request: web.Request) -> web.Response:
            if self.failing:
                return web.Response(status=503, reason=HOSTILE_REASON, text="down")
            return web.Response(text=f"alive {self.host}")

        app = web.Application()
        app.router.add_get("/", answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def web_config(reals: list[Real503], status_port: int, eventlog: Path) -> Config:
    virtual = Virtual(
        line=2, family=4, protocol="tcp", host=VIP, port=80, service="http", receive="alive",
        scheduler="wrr", checkinterval=1, quiescent=True,
        reals=tuple(Real(line=3 + i, host=r.host, port=r.port, forward="masq", weight=10 * (i + 1))
                    for i, r in enumerate(reals)),
    )  # fmt: skip
    globals_ = Globals(checkinterval=1, checktimeout=2, statusaddress=("127.0.0.1", status_port),
                       eventlog=str(eventlog))  # fmt: skip
    return Config(path="/etc/ha.d/web.cf", globals=globals_, virtuals=(virtual,))


class Rig:
    def __init__(self, reals: list[Real503], director: Director, memory: MemoryTable,
                 status_port: int, eventlog: Path, sink: ListSink) -> None:  # fmt: skip
        self.reals = reals
        self.director = director
        self.memory = memory
        self.base = f"http://127.0.0.1:{status_port}"
        self.eventlog = eventlog
        self.sink = sink

    async def get(self, path: str) -> tuple[int, dict[str, str], str]:
        async with aiohttp.ClientSession() as session, session.get(self.base + path) as reply:
            return reply.status, dict(reply.headers), await reply.text()


@asynccontextmanager
async def running_director(tmp_path: Path, count: int = 3) -> AsyncIterator[Rig]:
    port = free_port()
    reals = [Real503(f"127.0.0.{11 + n}", port) for n in range(count)]
    for real in reals:
        await real.start()
    status_port = free_port()
    eventlog = tmp_path / "events.jsonl"
    config = web_config(reals, status_port, eventlog)
    memory, sink = MemoryTable(), ListSink()
    log = Log(sink)
    observability = Observability(log)
    observability.configure(config)
    try:
        async with Checkers() as checkers:
            director = Director(config, memory, checkers, log,
                                observer=observability.observers)  # fmt: skip
            await director.start()
            await observability.serve(config, director, None)
            try:
                yield Rig(reals, director, memory, status_port, eventlog, sink)
            finally:
                await observability.close()
                await director.stop()
    finally:
        for real in reals:
            await real.stop()


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE):
        while not condition():
            await asyncio.sleep(0.05)
