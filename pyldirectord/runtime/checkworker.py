"""A check worker process: checks the shard of reals its director sends, reports verdicts.

Started by ``workers.WorkerPool`` as ``python -m pyldirectord.runtime.checkworker`` (never with
the daemon's ``CONFIG start`` argv, which the OCF agent's ``pgrep -f`` looks for). It runs the
same Prober and Scheduler the director runs in-process with ``workers=1``, on its own event
loop, and speaks ``workerwire`` frames: ``Assign``/``CheckNow`` on stdin, ``Results``,
``Stats`` and ``LogLine`` on stdout. The end of stdin (the director closed it, or died) ends
the worker: it never outlives its director.

The worker decides nothing about the table: a verdict means something only to the director,
which owns the health of each real and the IPVS table.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable

from pyldirectord.checks.registry import Checkers
from pyldirectord.core.checkplan import bound_of
from pyldirectord.core.faults import FaultLog
from pyldirectord.core.health import ProbeResult
from pyldirectord.runtime import loops
from pyldirectord.runtime.maintenance import MaintenanceDir, ReverseNameCache
from pyldirectord.runtime.prober import Prober, timed_out
from pyldirectord.runtime.scheduler import Scheduler, Unit
from pyldirectord.runtime.workerwire import (
    STATS_PERIOD,
    Assign,
    CheckNow,
    LogLine,
    Message,
    Results,
    Stats,
    encode,
    read_message,
    row_of,
)


class CheckWorker:
    """The worker's state: its scheduler, its probers, and the results not sent yet."""

    def __init__(self, send: Callable[[Message], None], checkers: Checkers) -> None:
        self._send = send
        self._checkers = checkers
        self._loop = asyncio.get_running_loop()
        self.faults = FaultLog(lambda text: send(LogLine(text)))
        self._scheduler: Scheduler[ProbeResult] | None = None
        self._maintenance: MaintenanceDir | None = None
        self._finished: list[tuple[str, ProbeResult, float]] = []

    def assign(self, message: Assign) -> None:
        if self._scheduler is None:
            self._scheduler = Scheduler[ProbeResult](
                self._on_result, timed_out, message.concurrency, on_error=self._round_failed
            )
        directory = message.maintenancedir
        if directory is None:
            self._maintenance = None
        elif self._maintenance is None or self._maintenance.directory != directory:
            self._maintenance = MaintenanceDir(directory, ReverseNameCache())
        units = {}
        for key, plan in message.plans.items():
            # The director logs a prober's note (a check it cannot run) once, for every shard.
            prober = Prober(plan, self._checkers, self._maintenance, self.faults)
            units[key] = Unit(key, prober, bound_of(plan), plan.interval, prober)
        self._scheduler.update(units)

    def check_now(self, message: CheckNow) -> None:
        if self._scheduler is not None:
            for key in message.keys:
                self._scheduler.check_now(key)

    def stats(self) -> Stats:
        scheduler = self._scheduler
        if scheduler is None:
            return Stats(0.0, False, 0, 0, 0)
        return Stats(scheduler.lag, scheduler.overloaded, scheduler.inconclusive,
                     scheduler.completed, scheduler.overdue(self._loop.time()))  # fmt: skip

    async def close(self) -> None:
        if self._scheduler is not None:
            await self._scheduler.close()
        self._flush()

    def _on_result(self, key: str, result: ProbeResult, at: float) -> None:
        # All results of one pass of the loop go in one message, sent at the start of the next.
        if not self._finished:
            self._loop.call_soon(self._flush)
        self._finished.append((key, result, at))

    def _flush(self) -> None:
        if not self._finished:
            return
        now = self._loop.time()
        rows = tuple(row_of(key, result, now - at) for key, result, at in self._finished)
        self._finished = []
        self._send(Results(rows))

    def _round_failed(self, key: str, error: Exception) -> None:
        self.faults.director_failed(f"the round of real server {key}", error)


async def serve(wire_in: int, wire_out: int) -> None:
    """Check what the director assigns until it closes our input."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(wire_in, "rb", buffering=0)
    )
    transport, _ = await loop.connect_write_pipe(
        asyncio.Protocol, os.fdopen(wire_out, "wb", buffering=0)
    )

    def send(message: Message) -> None:
        if not transport.is_closing():  # the director is gone: our input ends next
            transport.write(encode(message))

    async with Checkers() as checkers:
        worker = CheckWorker(send, checkers)

        async def report_stats() -> None:
            while True:
                await asyncio.sleep(STATS_PERIOD)
                send(worker.stats())

        send(worker.stats())  # first thing: the director knows we are up
        stats = loop.create_task(report_stats())
        try:
            while (message := await read_message(reader)) is not None:
                if isinstance(message, Assign):
                    worker.assign(message)
                elif isinstance(message, CheckNow):
                    worker.check_now(message)
        finally:
            stats.cancel()
            await worker.close()
            transport.close()


def main() -> int:
    # Only the director decides when a worker stops (it closes our input; or it died, and our
    # input ends just the same). Ctrl-C reaches the whole foreground process group, and
    # `systemctl stop` sends SIGTERM to every process of the unit at once: a worker that died
    # of those would race the director's own stop, which would take it for a crash.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    # Frames go out on a private copy of stdout; fd 1 becomes stderr, which the director reads
    # and logs, so that a stray print can never corrupt a frame.
    wire_out = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    loops.run(serve(0, wire_out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
