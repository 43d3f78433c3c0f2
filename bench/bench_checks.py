"""Benchmark of the check engine: connect and http checks against N loopback servers.

A server process listens on N (address, port) pairs spread over 127.0.0.0/8; this process
checks them through the director's own ``Scheduler`` (checks due together start as one batch,
as engine flights), every real re-checked as soon as its last check ended (interval 0), under
a concurrency bound, and reports checks/second and the checker's CPU-seconds per 1,000 checks
(the servers' CPU is not counted). ``--path coroutine`` runs the same checks as one coroutine
each (a Task each, asyncio.gather under a semaphore, no batching), for comparison.
``--kinds refused`` connects to ports where nothing listens: the kernel resets them, no server
process competes for the cores, and the load is the checker's alone.

    python bench/bench_checks.py --reals 1000 10000 --concurrency 500 --loop uvloop
With ``--workers 1 2`` the same load is also split over W processes (each its own event loop
and a share of the reals, as ``workers=W`` splits the daemon's checks), started together;
the report gives the aggregate checks/s, the CPU-seconds per 1,000 checks summed over the
workers, and the server process's CPU per 1,000 checks, which shares the cores and may be
what limits the scaling.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier

from pyldirectord.checks.base import CheckResult, CheckSpec, Target
from pyldirectord.checks.engine import Flight
from pyldirectord.checks.registry import Checkers, FlightMaker
from pyldirectord.runtime import loops
from pyldirectord.runtime.loops import loop_factory
from pyldirectord.runtime.scheduler import Scheduler, Unit

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nalive\n"
PORTS_PER_ADDRESS = 100
BASE_PORT = 20000


def raise_nofile() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def endpoints(reals: int) -> list[tuple[str, int]]:
    """127.0.X.Y addresses, 100 ports each: many reals without exhausting one address."""
    result = []
    for index in range(reals):
        host = index // PORTS_PER_ADDRESS + 1
        address = f"127.{10 + host // 250}.{host % 250}.1"
        result.append((address, BASE_PORT + index % PORTS_PER_ADDRESS))
    return result


class TinyHttp(asyncio.Protocol):
    """Answers any request with one fixed 200 and closes: the server must not be the limit."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if b"\r\n\r\n" in data:
            self.transport.write(RESPONSE)  # type: ignore[attr-defined]
            self.transport.close()


async def serve(reals: int, ready: Connection) -> None:
    loop = asyncio.get_running_loop()
    servers = []
    for address, port in endpoints(reals):
        servers.append(await loop.create_server(TinyHttp, address, port, backlog=4096))
    ready.send("ready")
    await loop.run_in_executor(None, ready.recv)  # until the benchmark says stop
    for server in servers:
        server.close()


def server_main(reals: int, ready: Connection) -> None:
    raise_nofile()
    # On uvloop (C transports) where installed: the server shares the host's cores with the
    # checker processes, and what it costs is taken from them.
    loops.run(serve(reals, ready))


def kind_targets(kind: str, reals: int) -> list[Target]:
    """The reals' addresses; for ``refused``, ports beside the listening ones where nothing
    listens: the kernel answers with a reset, no server process takes any CPU, and the load
    is the checker's own (what splitting it over worker processes can scale)."""
    offset = PORTS_PER_ADDRESS if kind == "refused" else 0
    return [Target(address, port + offset) for address, port in endpoints(reals)]


@dataclass(frozen=True)
class Figures:
    kind: str
    reals: int
    checks: int
    failures: int
    seconds: float
    cpu: float
    started: float = 0.0  # monotonic clock: shared by the processes of a split run
    ended: float = 0.0

    def line(self) -> str:
        rate = self.checks / self.seconds
        per_thousand = self.cpu / self.checks * 1000
        return (
            f"{self.kind:8} N={self.reals:<6} {self.checks:>6} checks in {self.seconds:6.2f} s "
            f"= {rate:8.0f} checks/s, {per_thousand:5.2f} CPU-s per 1,000 checks, "
            f"{self.failures} failed"
        )


class Verdicts:
    """The scheduler's fast path over a bare flight maker: the flight's result is the verdict."""

    def __init__(self, maker: FlightMaker) -> None:
        self._maker = maker

    def flight(self) -> tuple[Flight, float]:
        return self._maker()

    def verdict(self, result: CheckResult, error: BaseException | None) -> CheckResult:
        return result


def as_expected(kind: str, result: CheckResult) -> bool:
    """Every check must pass; a ``refused`` check must be refused (nothing listens there)."""
    return result.reason == "Connection refused" if kind == "refused" else result.ok


async def run_scheduled(
    checkers: Checkers, kind: str, targets: list[Target], spec: CheckSpec, checks: int,
    concurrency: int,
) -> int:  # fmt: skip
    """``checks`` checks of ``targets`` through the Scheduler, each real again at once."""
    done = asyncio.get_running_loop().create_future()
    failures = ended = 0

    def on_result(key: str, result: CheckResult, at: float) -> None:
        nonlocal failures, ended
        ended += 1
        failures += not as_expected(kind, result)
        if ended == checks and not done.done():
            done.set_result(None)

    async def unused_probe() -> CheckResult:
        raise AssertionError("every bench check has a flight")

    scheduler = Scheduler[CheckResult](
        on_result, lambda timeout: CheckResult(False, "guard", timeout), concurrency
    )
    units = {}
    for index, target in enumerate(targets):
        maker = checkers.flights(spec.checktype, target, spec)
        assert maker is not None, f"{kind} has no flight"
        units[str(index)] = Unit(str(index), unused_probe, 10.0, 0.0, Verdicts(maker))
    scheduler.update(units)
    await done
    await scheduler.close()
    return failures


async def run_round(
    check: Callable[[Target, CheckSpec], Awaitable[CheckResult]],
    kind: str,
    targets: list[Target],
    spec: CheckSpec,
    concurrency: int,
) -> int:
    bound = asyncio.Semaphore(concurrency)

    async def one(target: Target) -> bool:
        async with bound:
            return as_expected(kind, await check(target, spec))

    results = await asyncio.gather(*(one(target) for target in targets))
    return results.count(False)


async def measure(
    kind: str, reals: int, rounds: int, concurrency: int, path: str,
    share: list[Target] | None = None, barrier: Barrier | None = None,
) -> Figures:  # fmt: skip
    """``rounds`` checks of every real (of ``share``, in a split run), timed."""
    targets = share if share is not None else kind_targets(kind, reals)
    checktype = "negotiate" if kind == "http" else "connect"
    spec = CheckSpec(checktype, "http", checktimeout=10.0, negotiatetimeout=10.0,
                     receive="alive")  # fmt: skip
    async with Checkers() as checkers:
        check = checkers.lookup(checktype, "http", "tcp")
        await run_round(check, kind, targets[:200], spec, concurrency)  # warm up
        if barrier is not None:
            barrier.wait()  # nothing else runs on this loop yet: blocking is harmless here
        cpu0, started, failures = time.process_time(), time.monotonic(), 0
        if path == "engine":
            checks = len(targets) * rounds
            failures = await run_scheduled(checkers, kind, targets, spec, checks, concurrency)
        else:
            for _ in range(rounds):
                failures += await run_round(check, kind, targets, spec, concurrency)
        ended, cpu = time.monotonic(), time.process_time() - cpu0
    return Figures(kind, reals, len(targets) * rounds, failures, ended - started, cpu, started,
                   ended)  # fmt: skip


async def measure_share(
    kind: str, reals: int, rounds: int, concurrency: int, path: str, index: int, count: int,
    barrier: Barrier,
) -> Figures:  # fmt: skip
    """As ``measure``, for every ``count``-th real from ``index``; the timed part starts when
    every worker (and the parent) has warmed up."""
    targets = kind_targets(kind, reals)[index::count]
    return await measure(kind, reals, rounds, concurrency, path, targets, barrier)


def share_main(
    kind: str, reals: int, rounds: int, concurrency: int, path: str, loop: str, index: int,
    count: int, barrier: Barrier, results: Connection,
) -> None:  # fmt: skip
    raise_nofile()
    work = measure_share(kind, reals, rounds, concurrency, path, index, count, barrier)
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        results.send(runner.run(work))


def process_cpu(pid: int) -> float:
    """CPU-seconds (user + system) of another process, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_split(
    kind: str, reals: int, rounds: int, concurrency: int, workers: int, server: int, path: str,
    loop: str,
) -> str:
    """The load over ``workers`` processes: one report line, with the server's CPU."""
    barrier = multiprocessing.Barrier(workers + 1)
    pipes = [multiprocessing.Pipe(duplex=False) for _ in range(workers)]
    processes = [
        multiprocessing.Process(target=share_main, daemon=True, args=(
            kind, reals, rounds, concurrency, path, loop, index, workers, barrier,
            pipes[index][1]))
        for index in range(workers)
    ]  # fmt: skip
    for process in processes:
        process.start()
    try:
        barrier.wait(timeout=120)
        server0 = process_cpu(server)
        shares: list[Figures] = [receiving.recv() for receiving, _ in pipes]
        server_cpu = process_cpu(server) - server0
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
    checks = sum(share.checks for share in shares)
    seconds = max(share.ended for share in shares) - min(share.started for share in shares)
    cpu = sum(share.cpu for share in shares)
    failures = sum(share.failures for share in shares)
    return (
        f"{kind:8} N={reals:<6} workers={workers:<2} {checks:>6} checks in {seconds:6.2f} s "
        f"= {checks / seconds:8.0f} checks/s, {cpu / checks * 1000:5.2f} CPU-s per 1,000 "
        f"checks (workers), server {server_cpu / checks * 1000:5.2f}, {failures} failed"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reals", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--checks", type=int, default=10000, help="checks per measurement")
    parser.add_argument("--path", choices=("engine", "coroutine"), default="engine")
    parser.add_argument("--kinds", nargs="+", choices=("connect", "http", "refused"),
                        default=["connect", "http"])  # fmt: skip
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--workers", type=int, nargs="+", default=[],
                        help="also split the load over this many processes (e.g. 1 2)")
    args = parser.parse_args()
    limit = raise_nofile()
    if max(args.reals) + args.concurrency + 100 > limit:
        print(f"RLIMIT_NOFILE hard limit {limit} is too low for {max(args.reals)} reals")
        return 2
    python = sys.version.split()[0]
    print(f"concurrency bound {args.concurrency}, RLIMIT_NOFILE {limit}, Python {python}, "
          f"{args.path} path, {args.loop} loop")  # fmt: skip
    failed = False
    for reals in args.reals:
        parent, child = multiprocessing.Pipe()
        server = multiprocessing.Process(target=server_main, args=(reals, child), daemon=True)
        server.start()
        try:
            if not parent.poll(120):
                raise RuntimeError("the server process did not start")
            parent.recv()
            rounds = max(1, args.checks // reals)
            for kind in args.kinds:
                if args.workers:
                    for workers in args.workers:
                        line = measure_split(kind, reals, rounds, args.concurrency, workers,
                                             server.pid or 0, args.path, args.loop)  # fmt: skip
                        print(line, flush=True)
                        failed |= not line.endswith(" 0 failed")
                    continue
                work = measure(kind, reals, rounds, args.concurrency, args.path)
                with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
                    figures = runner.run(work)
                print(figures.line(), flush=True)
                failed |= figures.failures > 0
        finally:
            parent.send("stop")
            server.join(30)
            if server.is_alive():
                server.kill()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
