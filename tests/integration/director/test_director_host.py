"""The director against real HTTP servers on loopback, with the kernel edge replaced by an
in-memory table that records every operation. Waits have a generous deadline that only
catches hangs; no timing is asserted."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from ipaddress import ip_address
from pathlib import Path

import pytest
from aiohttp import web
from memory_table import ListSink, MemoryTable

from pyldirectord.checks.registry import Checkers
from pyldirectord.config.model import Config, Globals, Real, Virtual
from pyldirectord.core.events import RealEvent
from pyldirectord.core.table import (
    AddressKey,
    Dest,
    DestKey,
    Forwarding,
    IpvsTable,
    Protocol,
    Service,
)
from pyldirectord.notify.log import Log
from pyldirectord.runtime.director import Director

DEADLINE = 30.0
VIP = "192.0.2.80"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Backend:
    """A real HTTP server on 127.0.0.N that can be stopped and started again."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def ok(_request: web.Request) -> web.Response:
            return web.Response(text=f"alive {self.host}")

        app = web.Application()
        app.router.add_get("/", ok)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@pytest.fixture
async def servers() -> AsyncIterator[list[Backend]]:
    port = free_port()
    backends = [Backend(f"127.0.0.{n}", port) for n in (11, 12)]
    for backend in backends:
        await backend.start()
    yield backends
    for backend in backends:
        await backend.stop()


def web_config(backends: list[Backend], **globals_: object) -> Config:
    reals = tuple(
        Real(line=3 + i, host=b.host, port=b.port, forward="masq", weight=2 + i)
        for i, b in enumerate(backends)
    )
    virtual = Virtual(
        line=2, family=4, protocol="tcp", host=VIP, port=80, reals=reals,
        service="http", receive="alive", scheduler="rr", checkinterval=1,
    )  # fmt: skip
    settings = {"checkinterval": 1, "checktimeout": 2, **globals_}
    return Config(path="web.cf", globals=Globals(**settings), virtuals=(virtual,))  # type: ignore[arg-type]


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE):
        while not condition():
            await asyncio.sleep(0.02)


def weights(memory: MemoryTable) -> dict[str, int]:
    key = AddressKey(Protocol.TCP, ip_address(VIP), 80)
    return {str(k): d.weight for k, d in memory.table.reals(key).items()}


def director_for(
    config: Config, memory: MemoryTable, checkers: Checkers, sink: ListSink,
    events: list[RealEvent],
) -> Director:  # fmt: skip
    return Director(config, memory, checkers, Log(sink), notify=events.append)


async def test_start_programs_healthy_reals_without_churn(servers: list[Backend]) -> None:
    await servers[1].stop()  # one real is dead from the start
    memory, sink, events = MemoryTable(), ListSink(), list[RealEvent]()
    async with Checkers() as checkers:
        director = director_for(web_config(servers), memory, checkers, sink, events)
        await director.start()
        ops = memory.take_ops()
        await director.stop()
    live = f"127.0.0.11:{servers[0].port}"
    assert ops == [f"-A -t {VIP}:80 -s rr", f"-a -t {VIP}:80 -r {live} -m -w 2"]
    assert "Added virtual server: 192.0.2.80:80" in sink.lines
    assert f"Added real server: {live} (192.0.2.80:80) (Weight set to 2)" in sink.lines
    # The dead real is never added (no churn), but it gets the line and mail the reference's
    # start-up gives it (issue 13: reals down at start are logged as the reference does).
    dead = f"127.0.0.12:{servers[1].port}"
    assert f"Deleted real server: {dead} (192.0.2.80:80)" in sink.lines
    assert [e.kind for e in events] == ["added", "deleted", "purged-stop"]


async def test_a_dying_real_is_quiesced_and_comes_back(servers: list[Backend]) -> None:
    memory, sink, events = MemoryTable(), ListSink(), list[RealEvent]()
    dead = f"127.0.0.12:{servers[1].port}"
    async with Checkers() as checkers:
        director = director_for(web_config(servers, quiescent=True), memory, checkers, sink,
                                events)  # fmt: skip
        await director.start()
        assert weights(memory)[dead] == 3
        await servers[1].stop()
        await until(lambda: weights(memory)[dead] == 0)
        await servers[1].start()
        await until(lambda: weights(memory)[dead] == 3)
        await director.stop()
    assert f"Quiescent real server: {dead} (192.0.2.80:80) (Weight set to 0)" in sink.lines
    assert f"Restored real server: {dead} (192.0.2.80:80) (Weight set to 3)" in sink.lines
    kinds = [e.kind for e in events if e.host == "127.0.0.12"]
    assert kinds[:3] == ["added", "quiescent", "restored"]


async def test_failurecount_absorbs_single_failures_in_the_log(servers: list[Backend]) -> None:
    memory, sink, events = MemoryTable(), ListSink(), list[RealEvent]()
    config = web_config(servers, failurecount=1000)
    async with Checkers() as checkers:
        director = director_for(config, memory, checkers, sink, events)
        await director.start()
        await servers[0].stop()
        await until(lambda: any("failure 2/1000" in line for line in sink.lines))
        await servers[0].start()
        await until(lambda: any("Resetting soft failure count" in line for line in sink.lines))
        await director.stop()
    where = f"127.0.0.11:{servers[0].port} (tcp:192.0.2.80:80)"
    assert f"Soft failure real server: {where} failure 1/1000" in sink.lines
    assert [e.kind for e in events if e.kind != "purged-stop"] == ["added", "added"]


async def test_restart_adopts_a_live_table_with_zero_changes(servers: list[Backend]) -> None:
    config = web_config(servers)
    vip = AddressKey(Protocol.TCP, ip_address(VIP), 80)
    live = [
        Dest(DestKey(ip_address(b.host), b.port), Forwarding.MASQ, 2 + i)
        for i, b in enumerate(servers)
    ]
    memory = MemoryTable(IpvsTable.of([(Service(vip, scheduler="rr"), live)]))
    sink: ListSink = ListSink()
    async with Checkers() as checkers:
        director = director_for(config, memory, checkers, sink, [])
        await director.start()
        await asyncio.sleep(1.5)  # a few rounds of checks: still nothing to change
        ops = memory.take_ops()
        await director.stop()
    assert ops == []


async def test_reload_adds_a_virtual_without_touching_the_kept_one(servers: list[Backend]) -> None:
    config = web_config(servers)
    memory, sink = MemoryTable(), ListSink()
    async with Checkers() as checkers:
        director = director_for(config, memory, checkers, sink, [])
        await director.start()
        memory.take_ops()
        second = replace(config.virtuals[0], port=8080, line=10)
        await director.reload(replace(config, virtuals=(*config.virtuals, second)))
        ops = memory.take_ops()
        await director.stop()
        stop_ops = memory.take_ops()
    assert ops[0] == f"-A -t {VIP}:8080 -s rr"
    assert all(":8080" in op for op in ops)  # nothing on the kept virtual
    assert stop_ops == [f"-D -t {VIP}:80", f"-D -t {VIP}:8080"]


async def test_cleanstop_no_leaves_the_table(servers: list[Backend]) -> None:
    memory = MemoryTable()
    async with Checkers() as checkers:
        director = director_for(web_config(servers, cleanstop=False), memory, checkers,
                                ListSink(), [])  # fmt: skip
        await director.start()
        memory.take_ops()
        await director.stop()
    assert memory.take_ops() == []
    assert len(weights(memory)) == 2


async def test_maintenance_file_drains_a_real_and_removing_it_restores(
    servers: list[Backend], tmp_path: Path
) -> None:
    memory, sink = MemoryTable(), ListSink()
    config = web_config(servers, quiescent=True, maintenancedir=str(tmp_path))
    drained = f"127.0.0.11:{servers[0].port}"
    async with Checkers() as checkers:
        director = director_for(config, memory, checkers, sink, list[RealEvent]())
        await director.start()
        assert weights(memory)[drained] == 2
        (tmp_path / drained).touch()
        await until(lambda: weights(memory)[drained] == 0)
        (tmp_path / drained).unlink()
        await until(lambda: weights(memory)[drained] == 2)
        await director.stop()
    print("maintenance drain and return seen in the table")
    assert f"Quiescent real server: {drained} (192.0.2.80:80) (Weight set to 0)" in sink.lines
