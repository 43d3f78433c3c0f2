"""Containment in the director, against real HTTP servers on loopback: a check that raises is
that real's DOWN verdict while its timer keeps running, the fault is logged once with its
traceback, a fault in the reconcile loop is logged and the loop restarted, and a hostile
server's control characters never reach the log, the monitorfile or the state file raw."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from memory_table import ListSink, MemoryTable
from test_director_host import Backend, director_for, free_port, until, web_config, weights

from pyldirectord.checks.base import CheckFn, CheckResult, CheckSpec, Outcome, Target
from pyldirectord.checks.http import HttpChecker
from pyldirectord.checks.httpflight import LeanRequest
from pyldirectord.checks.registry import Checkers, FlightMaker
from pyldirectord.core.desired import desired_table
from pyldirectord.core.events import RealEvent
from pyldirectord.notify.log import Log
from pyldirectord.notify.statefile import DirectorState, read_state, render_table
from pyldirectord.runtime.director import Director


class BuggyHttp(HttpChecker):
    """The lean HTTP flight's judge hits the bug after the real I/O, inside the engine."""

    def __init__(self, checkers: BuggyCheckers) -> None:
        super().__init__()
        self._checkers = checkers

    def _judge_lean(
        self, lean: LeanRequest, status: int, reason: str, location: str | None, body: bytes
    ) -> Outcome | Callable[[], Awaitable[Outcome]]:
        self._checkers.maybe_raise(lean.target)
        return super()._judge_lean(lean, status, reason, location, body)


class BuggyCheckers(Checkers):
    """Real HTTP checks, except that a real in ``broken`` hits a bug after its real I/O: the
    check raises, as aiomysql's struct.error or checks/smtp.py's IndexError once did. Both
    ways a check runs: as an engine flight (``fast``), or as a coroutine."""

    def __init__(self, fast: bool) -> None:
        super().__init__(BuggyHttp(self))
        self.fast = fast
        self.broken: set[str] = set()
        self.raised = 0

    def maybe_raise(self, target: Target) -> None:
        if target.ip in self.broken:
            self.raised += 1
            raise IndexError("list index out of range")

    def lookup(self, checktype: str, service: str, protocol: str) -> CheckFn:
        check = super().lookup(checktype, service, protocol)

        async def maybe_buggy(target: Target, spec: CheckSpec) -> CheckResult:
            result = await check(target, spec)
            self.maybe_raise(target)
            return result

        return maybe_buggy

    def flights(self, checktype: str, target: Target, spec: CheckSpec) -> FlightMaker | None:
        return super().flights(checktype, target, spec) if self.fast else None


@pytest.fixture
async def servers() -> AsyncIterator[list[Backend]]:
    port = free_port()
    backends = [Backend(f"127.0.0.{n}", port) for n in (11, 12)]
    for backend in backends:
        await backend.start()
    yield backends
    for backend in backends:
        await backend.stop()


def headlines(sink: ListSink) -> list[str]:
    return [line for line in sink.lines if line.startswith("Check of real server")]


@pytest.mark.parametrize("fast", [True, False], ids=["flight", "coroutine"])
async def test_a_check_that_raises_is_down_and_its_timer_keeps_running(
    servers: list[Backend], fast: bool
) -> None:
    memory, sink, events = MemoryTable(), ListSink(), list[RealEvent]()
    buggy = f"127.0.0.12:{servers[1].port}"
    checkers = BuggyCheckers(fast)
    async with checkers:
        director = director_for(web_config(servers, quiescent=True), memory, checkers, sink,
                                events)  # fmt: skip
        await director.start()
        assert weights(memory)[buggy] == 3
        checkers.broken.add("127.0.0.12")
        await until(lambda: weights(memory)[buggy] == 0)
        await until(lambda: checkers.raised >= 4)  # the timer lives on: more rounds, more raises
        checkers.broken.clear()
        await until(lambda: weights(memory)[buggy] == 3)  # and a fixed check brings it back
        await director.stop()
    print(f"the buggy check raised {checkers.raised} times")
    assert headlines(sink) == [
        f"Check of real server {buggy} failed with an error; the real is marked down "
        "(logged once per real and error type)"
    ]  # once, however often it raised
    assert "Traceback (most recent call last):" in sink.lines
    assert "IndexError: list index out of range" in sink.lines
    assert f"Quiescent real server: {buggy} (192.0.2.80:80) (Weight set to 0)" in sink.lines
    assert director.faults.count == checkers.raised


async def test_a_fault_in_the_reconcile_loop_is_logged_and_the_loop_restarted(
    servers: list[Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    memory, sink = MemoryTable(), ListSink()
    dead = f"127.0.0.12:{servers[1].port}"
    faults = [RuntimeError("a bug in the table model")]

    def desired_table_with_one_bug(*args: object, **kwargs: object) -> object:
        if faults:
            raise faults.pop()
        return desired_table(*args, **kwargs)  # type: ignore[arg-type]

    async with Checkers() as checkers:
        director = director_for(web_config(servers, quiescent=True), memory, checkers, sink, [])
        await director.start()
        monkeypatch.setattr(
            "pyldirectord.runtime.director.desired_table", desired_table_with_one_bug
        )
        await until(lambda: not faults)  # the loop's next pass hit the bug
        await until(lambda: "Restarting the reconcile loop in 1s after an internal error"
                    in sink.lines)  # fmt: skip
        await servers[1].stop()
        await until(lambda: weights(memory)[dead] == 0)  # the restarted loop still applies
        await director.stop()
    assert "Internal error in the reconcile loop; the director carries on (logged once)" in (
        sink.lines
    )
    assert "RuntimeError: a bug in the table model" in sink.lines


class EscapingServer:
    """An HTTP real on 127.0.0.13 whose status line carries terminal escape sequences."""

    host = "127.0.0.13"

    def __init__(self, status_line: bytes) -> None:
        self.status_line = status_line
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(self.status_line + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        writer.close()

    async def __aenter__(self) -> EscapingServer:
        self._server = await asyncio.start_server(self._answer, self.host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


async def test_control_characters_from_a_server_reach_no_output_raw(tmp_path: Path) -> None:
    monitorfile, state = tmp_path / "monitor.log", tmp_path / "state.json"
    async with EscapingServer(b"HTTP/1.1 503 \x1b]0;owned\x07\x1b[2JBusy") as server:
        config = web_config([server])  # type: ignore[list-item]
        virtual = replace(config.virtuals[0], monitorfile=str(monitorfile))
        config = replace(config, virtuals=(virtual,))
        memory, sink = MemoryTable(), ListSink()
        async with Checkers() as checkers:
            director = Director(config, memory, checkers, Log(sink), state_path=str(state))
            await director.start()
            await until(lambda: monitorfile.exists() and "Busy" in monitorfile.read_text())
            await until(lambda: state.exists() and "Busy" in state.read_text())
            status_table = render_table(read_state_or_fail(state), time.time())
            await director.stop()
    escaped = "\\x1b]0;owned\\x07\\x1b[2JBusy"
    print(monitorfile.read_text(), status_table, sep="\n")
    assert escaped in monitorfile.read_text()
    assert escaped in status_table
    for text in (monitorfile.read_text(), status_table, *sink.lines):
        assert "\x1b" not in text and "\x07" not in text


def read_state_or_fail(path: Path) -> DirectorState:
    state = read_state(str(path))
    assert state is not None
    return state
