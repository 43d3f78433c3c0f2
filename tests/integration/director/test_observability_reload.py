"""The observability parts across reloads and faults: the listener moves when statusaddress
changes and stops when it is removed; a port already taken is logged and nothing else fails;
a new eventlog path gets the next transitions. Real listeners on loopback, real files."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import aiohttp
from memory_table import ListSink
from status_rig import free_port

from pyldirectord.config.model import Config, Globals
from pyldirectord.core.observer import Transition
from pyldirectord.notify.log import Log
from pyldirectord.notify.observability import Observability
from pyldirectord.notify.statefile import DirectorState


class Stats:
    lag, overloaded, inconclusive, completed = 0.0, False, 0, 3


class Still:
    """A director that is not running checks: the listener only reads it."""

    scheduler = Stats()

    def snapshot(self) -> DirectorState:
        return DirectorState(pid=1, config="r.cf", written_at=time.time(), virtuals=())


def config(port: int | None, eventlog: Path | None = None) -> Config:
    return Config(path="r.cf", globals=Globals(
        statusaddress=None if port is None else ("127.0.0.1", port),
        eventlog=None if eventlog is None else str(eventlog)))  # fmt: skip


async def status_code(port: int) -> int | None:
    try:
        async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{port}/status"
        ) as reply:
            return reply.status
    except aiohttp.ClientConnectionError:
        return None


def transition(real: str) -> Transition:
    return Transition(time.time(), "tcp:192.0.2.1:80", real, "up", "down", "refused", 0.001)


async def test_reload_moves_and_removes_the_listener_and_the_event_log(tmp_path: Path) -> None:
    sink = ListSink()
    observability = Observability(Log(sink))
    first, second = free_port(), free_port()
    logs = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    try:
        for port, eventlog in ((first, logs[0]), (second, logs[1])):
            observability.configure(config(port, eventlog))
            await observability.serve(config(port, eventlog), Still(), None)
            observability.observers.transition(transition(f"10.0.0.{port % 250}:80"))
        assert await status_code(first) is None and await status_code(second) == 200
        observability.configure(config(None))
        await observability.serve(config(None), Still(), None)
        assert await status_code(second) is None
        observability.observers.transition(transition("10.0.0.99:80"))  # no log any more
    finally:
        await observability.close()
    assert [json.loads(line)["real"] for line in logs[0].read_text().splitlines()] == \
        [f"10.0.0.{first % 250}:80"]  # fmt: skip
    assert [json.loads(line)["real"] for line in logs[1].read_text().splitlines()] == \
        [f"10.0.0.{second % 250}:80"]  # fmt: skip
    assert sink.lines == [
        f"statusaddress: serving /metrics, /status and / on 127.0.0.1:{first}",
        f"statusaddress: serving /metrics, /status and / on 127.0.0.1:{second}",
    ]


async def test_a_taken_port_is_logged_and_the_rest_works(tmp_path: Path) -> None:
    sink = ListSink()
    observability = Observability(Log(sink))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        wanted = config(port, tmp_path / "events.jsonl")
        observability.configure(wanted)
        await observability.serve(wanted, Still(), None)
        observability.observers.transition(transition("10.0.0.1:80"))
        await observability.close()
    assert len(sink.lines) == 1
    assert sink.lines[0].startswith(f"statusaddress: cannot listen on 127.0.0.1:{port}: ")
    assert json.loads((tmp_path / "events.jsonl").read_text())["real"] == "10.0.0.1:80"
