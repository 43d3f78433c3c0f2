"""Operator-facing habits of the reference (issue 13), kept by the director against real HTTP
servers on loopback: the fallbackcommand's calls finish in the order they were made, and the
monitorfile carries what the reference writes. Waits only catch hangs."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_address
from pathlib import Path

import pytest
from memory_table import ListSink, MemoryTable
from test_director_host import VIP, Backend, director_for, servers, until, web_config

from pyldirectord.checks.registry import Checkers
from pyldirectord.core.events import RealEvent
from pyldirectord.core.health import State
from pyldirectord.core.table import (
    AddressKey,
    Dest,
    DestKey,
    Forwarding,
    IpvsTable,
    Protocol,
    Service,
)

__all__ = ["servers"]  # the fixture, used by name


def recording_fallbackcommand(tmp_path: Path) -> tuple[Path, Path]:
    """A fallbackcommand whose `start` takes 2 s; every call's begin and end are recorded."""
    record = tmp_path / "calls"
    script = tmp_path / "fallback.sh"
    script.write_text(f'#!/bin/sh\necho "$1 begin" >> {record}\n'
                      f'[ "$1" = start ] && sleep 2\necho "$1 end" >> {record}\n')  # fmt: skip
    script.chmod(0o755)
    return script, record


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_a_slow_start_and_a_quick_recovery_end_stopped(
    servers: list[Backend], tmp_path: Path
) -> None:
    script, record = recording_fallbackcommand(tmp_path)
    for backend in servers:
        await backend.stop()  # every real down: the fallbackcommand starts
    config = web_config(servers, fallbackcommand=str(script))
    async with Checkers() as checkers:
        director = director_for(config, MemoryTable(), checkers, ListSink(), list[RealEvent]())
        await director.start()
        await until(lambda: "start begin" in lines(record))
        for backend in servers:
            await backend.start()  # recovered while `start` still runs
        await until(lambda: len(lines(record)) == 4)
        await director.stop()
    # One call at a time, in the order made: the external system ends out of fallback mode.
    assert lines(record) == ["start begin", "start end", "stop begin", "stop end"]


async def test_monitorfile_lines_carry_what_the_reference_writes(
    servers: list[Backend], tmp_path: Path
) -> None:
    http_log, connect_log = tmp_path / "http.monitor", tmp_path / "connect.monitor"
    config = web_config(servers)
    http = replace(config.virtuals[0], monitorfile=str(http_log))
    connect = replace(http, port=81, line=20, checktype="connect", monitorfile=str(connect_log))
    config = replace(config, virtuals=(http, connect))
    await servers[1].stop()
    async with Checkers() as checkers:
        director = director_for(config, MemoryTable(), checkers, ListSink(), list[RealEvent]())
        await director.start()
        await until(lambda: len(lines(http_log)) >= 2 and len(lines(connect_log)) >= 2)
        await director.stop()
    up, down = f"127.0.0.11 {servers[0].port}", f"127.0.0.12 {servers[1].port}"
    # HTTP: the status line when up (where we used to write "-"), LWP's words when down.
    assert any(up in line and line.endswith("[up] 200 OK") for line in lines(http_log))
    assert any(down in line and f"[down] 500 Can't connect to 127.0.0.12:{servers[1].port}"
               in line for line in lines(http_log))  # fmt: skip
    # A connect check passes no message either way: the reference writes "-".
    assert any(up in line and line.endswith("[up] -") for line in lines(connect_log))
    assert any(down in line and line.endswith("[down] -") for line in lines(connect_log))


@pytest.mark.parametrize("leftover", [False, True], ids=["absent", "left-at-weight-0"])
async def test_a_real_down_from_the_start_is_logged_once(
    servers: list[Backend], leftover: bool
) -> None:
    # The first apply runs before any check (settle=0): the dead real is not checked yet. An
    # entry an earlier director left at weight 0 is deleted then (quiescent=no) and that is
    # its line; without one, its first failed check gives the line. Never both.
    await servers[1].stop()
    dead = f"127.0.0.12:{servers[1].port}"
    kernel = IpvsTable()
    if leftover:
        vip = AddressKey(Protocol.TCP, ip_address(VIP), 80)
        entry = Dest(DestKey(ip_address("127.0.0.12"), servers[1].port), Forwarding.MASQ, 0)
        kernel = IpvsTable.of([(Service(vip, scheduler="rr"), [entry])])
    sink = ListSink()
    async with Checkers() as checkers:
        director = director_for(web_config(servers), MemoryTable(kernel), checkers, sink, [])
        await director.start(settle=0)
        key = ("tcp:192.0.2.80:80", dead)
        await until(lambda: key in director.health and director.health[key].state is State.DOWN)
        await director.reconcile()
        await director.stop()
    assert [line for line in sink.lines if dead in line] == [
        f"Deleted real server: {dead} (192.0.2.80:80)"]  # fmt: skip
