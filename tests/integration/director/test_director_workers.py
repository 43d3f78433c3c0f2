"""workers=2: the director's checks in two worker processes, against real TCP servers on
loopback, with the kernel edge replaced by an in-memory table. Real processes throughout:
a worker is killed with SIGKILL, the director's stop must leave none behind, and a worker
whose director dies must end. Waits have a generous deadline that only catches hangs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from ipaddress import ip_address
from pathlib import Path

import pytest
from memory_table import ListSink, MemoryTable
from test_director_host import free_port

from pyldirectord.checks.registry import Checkers
from pyldirectord.config.model import Config, Globals, Real, Virtual
from pyldirectord.core.checkplan import check_plans
from pyldirectord.core.events import RealEvent
from pyldirectord.core.table import AddressKey, Protocol
from pyldirectord.notify.log import Log
from pyldirectord.runtime import workers
from pyldirectord.runtime.director import Director
from pyldirectord.runtime.workers import WorkerPool, shard_of
from pyldirectord.runtime.workerwire import LogLine, encode

DEADLINE = 30.0
VIP = "192.0.2.90"
PER_SHARD = 2


class Server:
    """A TCP server on 127.0.0.N that accepts and closes; stopped and started at will."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        def close(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        self._server = await asyncio.start_server(close, self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


def config_of(hosts: list[str], port: int, **globals_: object) -> Config:
    reals = tuple(Real(line=3 + i, host=host, port=port, forward="masq", weight=5)
                  for i, host in enumerate(hosts))  # fmt: skip
    virtual = Virtual(line=2, family=4, protocol="tcp", host=VIP, port=80, reals=reals,
                      checktype="connect", scheduler="rr", checkinterval=1)  # fmt: skip
    settings = {"checkinterval": 1, "checktimeout": 2, "quiescent": True, "workers": 2,
                **globals_}  # fmt: skip
    return Config(path="w.cf", globals=Globals(**settings), virtuals=(virtual,))  # type: ignore[arg-type]


def hosts_per_shard(port: int) -> list[list[str]]:
    """Loopback hosts, PER_SHARD checked by each of the two workers."""
    chosen: list[list[str]] = [[], []]
    for n in range(20, 250):
        host = f"127.0.0.{n}"
        (key,) = check_plans(config_of([host], port))
        shard = chosen[shard_of(key, 2)]
        if len(shard) < PER_SHARD:
            shard.append(host)
        if all(len(s) == PER_SHARD for s in chosen):
            return chosen
    raise AssertionError("no spread of loopback hosts over two shards")


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE):
        while not condition():
            await asyncio.sleep(0.02)


def weights(memory: MemoryTable) -> dict[str, int]:
    key = AddressKey(Protocol.TCP, ip_address(VIP), 80)
    return {str(k).split(":")[0]: d.weight for k, d in memory.table.reals(key).items()}


def alive(pid: int) -> bool:
    """Running or not yet reaped (a zombie counts: it is what a leak of ours leaves)."""
    return os.path.exists(f"/proc/{pid}")


def running(pid: int) -> bool:
    """Running, not a zombie waiting for a parent that is not ours (an orphan's end)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Farm:
    def __init__(self, port: int, shards: list[list[str]]) -> None:
        self.port, self.shards = port, shards
        self.servers = {host: Server(host, port) for shard in shards for host in shard}


@pytest.fixture
async def farm() -> AsyncIterator[Farm]:
    port = free_port()
    farm = Farm(port, hosts_per_shard(port))
    for server in farm.servers.values():
        await server.start()
    yield farm
    for server in farm.servers.values():
        await server.stop()


def pool_of(director: Director) -> WorkerPool:
    pool = director.scheduler
    assert isinstance(pool, WorkerPool)
    return pool


async def test_verdicts_of_both_workers_reach_the_table(farm: Farm) -> None:
    memory, sink, events = MemoryTable(), ListSink(), list[RealEvent]()
    hosts = [host for shard in farm.shards for host in shard]
    async with Checkers() as checkers:
        director = Director(config_of(hosts, farm.port), memory, checkers, Log(sink),
                            notify=events.append)  # fmt: skip
        await director.start()
        pool = pool_of(director)
        pids = [slot.pid for slot in pool.slots]
        assert all(pid is not None and pid != os.getpid() for pid in pids)
        await until(lambda: weights(memory) == dict.fromkeys(hosts, 5))
        for shard in farm.shards:  # one real of each worker's shard dies, then comes back
            await farm.servers[shard[0]].stop()
        await until(lambda: [weights(memory)[s[0]] for s in farm.shards] == [0, 0])
        assert all(weights(memory)[s[1]] == 5 for s in farm.shards)
        for shard in farm.shards:
            await farm.servers[shard[0]].start()
        await until(lambda: weights(memory) == dict.fromkeys(hosts, 5))
        await until(lambda: pool.completed > 0)  # the workers' figures reach the director
        await director.stop()
    for shard in farm.shards:
        where = f"{shard[0]}:{farm.port} ({VIP}:80)"
        assert f"Quiescent real server: {where} (Weight set to 0)" in sink.lines
        assert f"Restored real server: {where} (Weight set to 5)" in sink.lines
    assert not any(alive(pid) for pid in pids if pid is not None)


# A worker that takes longer to come up than the director's 2 s settle (a loaded host).
SLOW_WORKER = (sys.executable, "-c", "import runpy, time; time.sleep(3); "
               "runpy.run_module('pyldirectord.runtime.checkworker', run_name='__main__')")


@pytest.mark.parametrize("count", [1, 2])
async def test_start_waits_for_the_workers_so_the_first_apply_has_no_churn(
    farm: Farm, count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "WORKER_ARGV", SLOW_WORKER)
    # quiescent=yes: a real not checked yet would be added at weight 0, then changed. The
    # workers' start-up (a new interpreter each) must not cost that churn.
    for shard in farm.shards:
        await farm.servers[shard[0]].stop()
    memory, sink = MemoryTable(), ListSink()
    hosts = [host for shard in farm.shards for host in shard]
    async with Checkers() as checkers:
        director = Director(config_of(hosts, farm.port, workers=count), memory, checkers,
                            Log(sink))  # fmt: skip
        await director.start()
        ops = memory.take_ops()
        await director.stop()
    # Exactly what the in-process checks do (count=1): the live reals added at their weight,
    # the dead ones (down at their first check) never.
    live = [shard[1] for shard in farm.shards]
    expected = [f"-A -t {VIP}:80 -s rr"] + [f"-a -t {VIP}:80 -r {host}:{farm.port} -m -w 5"
                                            for host in live]  # fmt: skip
    assert sorted(ops) == sorted(expected)


async def test_a_killed_worker_is_restarted_and_its_reals_keep_their_state(farm: Farm) -> None:
    memory, sink, events = MemoryTable(), ListSink(), list[RealEvent]()
    hosts = [host for shard in farm.shards for host in shard]
    async with Checkers() as checkers:
        director = Director(config_of(hosts, farm.port), memory, checkers, Log(sink),
                            notify=events.append)  # fmt: skip
        await director.start()
        await until(lambda: weights(memory) == dict.fromkeys(hosts, 5))
        pool = pool_of(director)
        slot = pool.slots[0]
        victim = slot.pid
        assert victim is not None
        before = len(events)
        os.kill(victim, signal.SIGKILL)
        await until(lambda: slot.pid is not None and slot.pid != victim)
        died = f"Check worker 0 (pid {victim}) died (killed by SIGKILL); restarting it in 1s"
        assert any(line.startswith(died) for line in sink.lines), sink.lines
        assert not alive(victim)  # reaped, no zombie
        completed = slot.completed
        await until(lambda: slot.completed > completed)  # the new worker checks and reports
        # Nothing changed for any real while its checker was dead and restarting.
        assert events[before:] == []
        assert weights(memory) == dict.fromkeys(hosts, 5)
        # The new worker checks worker 0's shard: a real of it that dies is quiesced.
        await farm.servers[farm.shards[0][0]].stop()
        await until(lambda: weights(memory)[farm.shards[0][0]] == 0)
        pids = [s.pid for s in pool.slots]
        await director.stop()
    assert sum(line.startswith("Check worker") for line in sink.lines) == 1, sink.lines
    assert not any(alive(pid) for pid in pids if pid is not None)


async def test_maintenance_and_reload_reach_the_workers(farm: Farm, tmp_path: Path) -> None:
    # The interval is longer than the test's deadline: only the director's forwarded
    # check_now (a maintenance file appeared or went) can make a worker check in time.
    memory, sink = MemoryTable(), ListSink()
    hosts = [shard[0] for shard in farm.shards]
    config = config_of(hosts, farm.port, checkinterval=120, maintenancedir=str(tmp_path))
    config = replace(config, virtuals=(replace(config.virtuals[0], checkinterval=120),))
    async with Checkers() as checkers:
        director = Director(config, memory, checkers, Log(sink))
        await director.start()
        await until(lambda: weights(memory) == dict.fromkeys(hosts, 5))
        drained = farm.shards[1][0]
        (tmp_path / drained).touch()
        await until(lambda: weights(memory)[drained] == 0)
        (tmp_path / drained).unlink()
        await until(lambda: weights(memory)[drained] == 5)
        # A reload adds a real: the worker of its shard gets it and checks it.
        added = farm.shards[0][1]
        bigger = config_of([*hosts, added], farm.port, checkinterval=120,
                           maintenancedir=str(tmp_path), workers=3)  # fmt: skip
        await director.reload(bigger)
        await until(lambda: weights(memory).get(added) == 5)
        await director.stop()
    assert ("workers= takes effect at the next start; checks keep running in 2 process(es)"
            in sink.lines)  # fmt: skip


async def test_what_a_worker_logs_and_writes_on_stderr_reaches_the_log() -> None:
    # A stand-in worker (a real process) that logs one line, writes one on stderr and exits.
    frame = encode(LogLine("a line a worker logged"))
    script = ("import os, sys; os.write(1, bytes.fromhex(sys.argv[1])); "
              "sys.stderr.write('Traceback: boom\\n'); sys.exit(3)")  # fmt: skip
    lines: list[str] = []
    pool = WorkerPool(1, lambda *_: None, lines.append,
                      argv=(sys.executable, "-c", script, frame.hex()))  # fmt: skip
    pool.update(check_plans(config_of(["127.0.0.1"], 9)), None)
    await until(lambda: any("restarting it" in line for line in lines))
    await pool.close()
    assert "a line a worker logged" in lines
    assert any(line.startswith("Check worker 0 (pid ") and line.endswith("): Traceback: boom")
               for line in lines)  # fmt: skip
    assert any("died (exit code 3); restarting it in 1s" in line for line in lines)


PARENT = """
import asyncio
from pyldirectord.config.parser import parse
from pyldirectord.core.checkplan import check_plans
from pyldirectord.runtime.workers import WorkerPool

REALS = "".join(f"\\treal=127.0.0.{n}:9 gate\\n" for n in range(1, 30))

async def main():
    pool = WorkerPool(2, lambda *_: None, lambda line: None)
    plans = check_plans(parse(f"virtual=192.0.2.1:9\\n{REALS}\\tchecktype=connect\\n", "p.cf"))
    pool.update(plans, None)
    while any(slot.pid is None for slot in pool.slots):
        await asyncio.sleep(0.02)
    print(*(slot.pid for slot in pool.slots), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_silent_worker_is_overdue_then_killed_and_restarted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A stand-in worker that is stuck: it lives but never says anything.
    monkeypatch.setattr(workers, "STALL", 1.0)
    lines: list[str] = []
    plans = check_plans(config_of(["127.0.0.1"], 9))
    pool = WorkerPool(1, lambda *_: None, lines.append,
                      argv=(sys.executable, "-c", "import time; time.sleep(600)"))  # fmt: skip
    pool.update(plans, None)
    await until(lambda: pool.slots[0].pid is not None)
    stuck = pool.slots[0].pid
    assert stuck is not None
    loop = asyncio.get_running_loop()
    await until(lambda: pool.overdue(loop.time()) == len(plans))  # the watchdog sees it
    await until(lambda: any("sent nothing for 1s and was killed" in line for line in lines))
    await until(lambda: pool.slots[0].pid not in (None, stuck))
    assert not alive(stuck)
    await pool.close()


async def test_a_worker_outlives_sigterm_and_sigint_until_its_director_stops_it(
    farm: Farm,
) -> None:
    # systemctl stop signals every process of the unit; only the director stops a worker.
    pool = WorkerPool(2, lambda *_: None, lambda _line: None)
    pool.update(check_plans(config_of([farm.shards[0][0]], farm.port)), None)
    slot = pool.slots[0]
    await until(lambda: slot.completed > 0)
    pid = slot.pid
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    os.kill(pid, signal.SIGINT)
    completed = slot.completed
    await until(lambda: slot.completed > completed)  # figures sent after the signals
    assert slot.pid == pid and running(pid)
    await pool.close()
    assert not alive(pid)


async def test_a_worker_without_reals_is_not_started(farm: Farm) -> None:
    # workers=auto on a host with many CPUs and a small farm: no idle processes.
    host = farm.shards[0][0]
    pool = WorkerPool(2, lambda *_: None, lambda _line: None)
    pool.update(check_plans(config_of([host], farm.port)), None)
    await until(lambda: pool.slots[0].pid is not None)
    assert pool.slots[1].pid is None
    await pool.close()


async def test_workers_end_when_their_director_dies() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(parent.stdout.readline), DEADLINE)
        pids = [int(pid) for pid in line.split()]
        assert len(pids) == 2 and all(running(pid) for pid in pids)
        for pid in pids:  # a worker's argv is never the daemon's "CONFIG start"
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                argv = cmdline.read().split(b"\0")
            assert b"start" not in argv and b"pyldirectord.runtime.checkworker" in argv
    finally:
        parent.kill()
        parent.wait()
    await until(lambda: not any(running(pid) for pid in pids))
