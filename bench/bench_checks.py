"""Benchmark of the check engine: connect and http checks against N loopback servers.

A server process listens on N (address, port) pairs spread over 127.0.0.0/8; this process
checks them through the director's own ``Scheduler`` (checks due together start as one batch,
as engine flights), every real re-checked as soon as its last check ended (interval 0), under
a concurrency bound, and reports checks/second and the checker's CPU-seconds per 1,000 checks
(the servers' CPU is not counted). ``--path coroutine`` runs the same checks as coroutines
(one Task each, asyncio.gather under a semaphore): the engine's previous shape, for comparison.

    python bench/bench_checks.py --reals 1000 10000 --concurrency 500 --loop uvloop
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection

from pyldirectord.checks.base import CheckResult, CheckSpec, Target
from pyldirectord.checks.engine import Flight
from pyldirectord.checks.registry import Checkers, FlightMaker
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
    asyncio.run(serve(reals, ready))


@dataclass(frozen=True)
class Figures:
    kind: str
    reals: int
    checks: int
    failures: int
    seconds: float
    cpu: float

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
        failures += not result.ok
        if ended == checks and not done.done():
            done.set_result(None)

    async def unused_probe() -> CheckResult:
        raise AssertionError("every bench check has a flight")

    scheduler = Scheduler[CheckResult](
        on_result, lambda timeout: CheckResult(False, "guard", timeout), concurrency
    )
    units = {}
    for index, target in enumerate(targets):
        maker = checkers.flights(kind, target, spec)
        assert maker is not None, f"{kind} has no flight"
        units[str(index)] = Unit(str(index), unused_probe, 10.0, 0.0, Verdicts(maker))
    scheduler.update(units)
    await done
    await scheduler.close()
    return failures


async def run_round(
    check: Callable[[Target, CheckSpec], Awaitable[CheckResult]],
    targets: list[Target],
    spec: CheckSpec,
    concurrency: int,
) -> int:
    bound = asyncio.Semaphore(concurrency)

    async def one(target: Target) -> bool:
        async with bound:
            return (await check(target, spec)).ok

    results = await asyncio.gather(*(one(target) for target in targets))
    return results.count(False)


async def measure(kind: str, reals: int, rounds: int, concurrency: int, path: str) -> Figures:
    targets = [Target(address, port) for address, port in endpoints(reals)]
    checktype = "connect" if kind == "connect" else "negotiate"
    spec = CheckSpec(checktype, "http", checktimeout=10.0, negotiatetimeout=10.0,
                     receive="alive")  # fmt: skip
    async with Checkers() as checkers:
        check = checkers.lookup(checktype, "http", "tcp")
        await run_round(check, targets[: min(reals, 200)], spec, concurrency)  # warm up
        cpu0, wall0, failures = time.process_time(), time.perf_counter(), 0
        if path == "engine":
            checks = reals * rounds
            failures = await run_scheduled(checkers, checktype, targets, spec, checks,
                                           concurrency)  # fmt: skip
        else:
            for _ in range(rounds):
                failures += await run_round(check, targets, spec, concurrency)
        seconds, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return Figures(f"{kind}", reals, reals * rounds, failures, seconds, cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reals", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--checks", type=int, default=10000, help="checks per measurement")
    parser.add_argument("--path", choices=("engine", "coroutine"), default="engine")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
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
            for kind in ("connect", "http"):
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
