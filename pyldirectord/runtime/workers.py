"""``workers=N``: the director's checks in N worker processes (docs/design.md, "Check workers").

One event loop tops out at a few thousand checks a second; a director with many cores runs
its checks in N processes (``checkworker``), each checking a stable shard of the reals, and
keeps the one thing that must be single, the health of the reals and the IPVS table, in the
director. ``WorkerPool`` offers the director what it uses of ``scheduler.Scheduler``
(``update``, ``check_now``, ``close`` and the figures the watchdog and /metrics read), so the
director is the same with or without workers.

A worker that dies is restarted with a growing delay and given its shard again. Until it is
back its reals keep their last state: the death of a checker says nothing about the reals,
so it never marks them down. A worker silent for longer than STALL (no figures, which it
sends every second) is stuck, and is killed and restarted like a dead one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import zlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Literal

import pyldirectord
from pyldirectord.config.values import WORKERS_MAX
from pyldirectord.core.checkplan import CheckPlan
from pyldirectord.core.faults import printable
from pyldirectord.core.health import ProbeResult
from pyldirectord.runtime.workerwire import (
    Assign,
    CheckNow,
    FrameError,
    LogLine,
    Message,
    Results,
    Stats,
    encode,
    read_message,
    result_of,
)

# Not the daemon's argv: the OCF agent finds a stuck daemon by `pgrep -f "BINARY CONFIG start"`.
WORKER_ARGV = (sys.executable, "-m", "pyldirectord.runtime.checkworker")
RESTART_DELAY = 1.0  # after a worker died; doubled on each death in a row up to RESTART_MAX
RESTART_MAX = 30.0
STALL = 30.0  # a worker that sends nothing for this long is stuck
CLOSE_GRACE = 10.0  # how long a stopping worker may take to end its checks before a kill
STDERR_LINE = 512  # a line a worker writes on stderr is logged cut to this many characters

OnResult = Callable[[str, ProbeResult, float], None]
OnError = Callable[[str, Exception], None]


def worker_count(setting: int | Literal["auto"]) -> int:
    """How many check processes ``workers=`` asks for; 1 means checks in the daemon itself.

    ``auto``: one per CPU this process may run on (its affinity, e.g. a cgroup's cpuset or
    `taskset`, not the machine's count).
    """
    if setting == "auto":
        return max(1, min(len(os.sched_getaffinity(0)), WORKERS_MAX))
    return setting


def shard_of(key: str, count: int) -> int:
    """Which worker checks the real ``key``: the same for the life of the config and across
    restarts and reloads (crc32, not ``hash``, which differs per process)."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % count


def shards(plans: Mapping[str, CheckPlan], count: int) -> list[dict[str, CheckPlan]]:
    """The plans of each worker. A worker needs what to check, not whom a verdict concerns:
    the members (virtual, real) stay with the director."""
    split: list[dict[str, CheckPlan]] = [{} for _ in range(count)]
    for key, plan in plans.items():
        split[shard_of(key, count)][key] = replace(plan, members=())
    return split


def worker_environment() -> dict[str, str]:
    """The daemon's environment, with this very package first on the path: a worker runs the
    code its director runs, even when the director was started from a source tree."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(pyldirectord.__file__)))
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root if not path else f"{root}{os.pathsep}{path}"}


def exit_text(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class WorkerSlot:
    """One worker process, kept alive: started on the first assignment, restarted on death."""

    def __init__(
        self, index: int, deliver: Callable[[Results], None], log: Callable[[str], None],
        concurrency: int, argv: tuple[str, ...],
    ) -> None:  # fmt: skip
        self.index = index
        self._deliver = deliver
        self._log = log
        self._concurrency = concurrency
        self._argv = argv
        self._loop = asyncio.get_running_loop()
        self._plans: dict[str, CheckPlan] = {}
        self._maintenancedir: str | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._check_now: set[str] = set()
        self._stats = Stats(0.0, False, 0, 0, 0)  # the running worker's latest figures
        self._past_completed = 0  # what workers of this slot that ended had counted
        self._past_inconclusive = 0
        self._heard = self._loop.time()  # its last figures (or its start)
        self._spoke = asyncio.Event()  # a worker of this slot has said something

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def stats(self) -> Stats:
        return self._stats

    @property
    def completed(self) -> int:
        return self._past_completed + self._stats.completed

    @property
    def inconclusive(self) -> int:
        return self._past_inconclusive + self._stats.inconclusive

    def overdue(self, now: float) -> int:
        """Its own figure; every real of its shard while it is dead or silent past STALL."""
        if self._plans and now - self._heard > STALL:
            return len(self._plans)
        return self._stats.overdue

    def assign(self, plans: dict[str, CheckPlan], maintenancedir: str | None) -> None:
        self._plans, self._maintenancedir = plans, maintenancedir
        if self._task is None and not plans:
            return  # workers=auto on a big host and a small farm: no idle processes
        if self._task is None:
            self._heard = self._loop.time()
            self._task = self._loop.create_task(self._supervise(),
                                                name=f"check worker {self.index}")  # fmt: skip
        else:
            self._send(self._assignment())

    async def ready(self) -> None:
        """Until a worker of this slot is up (it speaks first thing); at once for an idle slot."""
        if self._task is not None:
            await self._spoke.wait()

    def check_now(self, key: str) -> None:
        # A maintenance directory's change asks for every real at once: one message a pass.
        if not self._check_now:
            self._loop.call_soon(self._send_check_now)
        self._check_now.add(key)

    async def close(self) -> None:
        """End the worker: the end of its input stops its checks; a kill if it lingers."""
        self._closing = True
        task = self._task
        if task is None:
            return
        process = self._process
        if process is not None and process.stdin is not None:
            process.stdin.close()
        try:
            async with asyncio.timeout(CLOSE_GRACE):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()  # its cleanup kills the worker and reaps it
        await asyncio.gather(task, return_exceptions=True)

    # ------------------------------------------------------------------ the process

    async def _supervise(self) -> None:
        delay = RESTART_DELAY
        while not self._closing:
            started = self._loop.time()
            try:
                ended = await self._run()
            except Exception as error:  # e.g. the interpreter cannot be started
                ended = f"failed: {type(error).__name__}: {error}"
            if self._closing:
                return
            if self._loop.time() - started > RESTART_MAX * 2:
                delay = RESTART_DELAY  # it ran well for a while: a new fault, not a streak
            shard = len(self._plans)
            self._log(f"Check worker {self.index} {ended}; restarting it in {delay:g}s; its "
                      f"{shard} real servers keep their last state meanwhile")  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX)

    async def _run(self) -> str:
        """Start a worker, give it the shard, relay what it says; how it ended."""
        process = await asyncio.create_subprocess_exec(
            *self._argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=worker_environment(),
        )  # fmt: skip
        assert process.stdout is not None and process.stderr is not None
        self._process = process
        self._heard = self._loop.time()
        stderr = self._loop.create_task(self._relay_stderr(process.stderr, process.pid))
        ended: str | None = None  # None: cancelled (a stop that waited too long) or a bug
        try:
            self._send(self._assignment())
            ended = await self._relay(process.stdout)
        finally:
            self._process = None
            self._past_completed += self._stats.completed
            self._past_inconclusive += self._stats.inconclusive
            self._stats = Stats(0.0, False, 0, 0, 0)
            if ended != "died":  # stuck, garbled or abandoned: it must not live on
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            try:
                async with asyncio.timeout(CLOSE_GRACE):
                    await process.wait()
            except TimeoutError:  # it closed its output but lives on: no orphan either way
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            await asyncio.gather(stderr, return_exceptions=True)
        return f"(pid {process.pid}) {ended} ({exit_text(process.returncode)})"

    async def _relay(self, output: asyncio.StreamReader) -> str:
        while True:
            try:
                async with asyncio.timeout(STALL):
                    message = await read_message(output)
            except TimeoutError:
                return f"sent nothing for {STALL:g}s and was killed"
            except FrameError as error:
                return f"garbled its output ({error}) and was killed"
            if message is None:
                return "died"  # or ended at a stop: its input closed
            self._heard = self._loop.time()
            self._spoke.set()
            if isinstance(message, Results):
                self._deliver(message)
            elif isinstance(message, Stats):
                self._stats = message
            elif isinstance(message, LogLine):
                self._log(message.text)

    async def _relay_stderr(self, stream: asyncio.StreamReader, pid: int) -> None:
        """What a worker writes on stderr (a crash's traceback, a library's warning) is logged,
        each line bounded: the daemon's own stderr may go nowhere."""
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line over the stream's limit: log its start
                line = await stream.read(STDERR_LINE)
            if not line:
                return
            text = printable(line.decode("utf-8", "replace").rstrip("\n"), STDERR_LINE)
            self._log(f"Check worker {self.index} (pid {pid}): {text}")

    def _assignment(self) -> Assign:
        return Assign(self._plans, self._maintenancedir, self._concurrency)

    def _send(self, message: Message) -> None:
        """To the running worker; nothing is lost while none runs, as a new one gets the whole
        shard, and checks each real at once."""
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return
        process.stdin.write(encode(message))

    def _send_check_now(self) -> None:
        keys, self._check_now = tuple(self._check_now), set()
        self._send(CheckNow(keys))


class WorkerPool:
    """The director's checks in ``count`` processes, with ``Scheduler``'s interface."""

    def __init__(
        self, count: int, on_result: OnResult, log: Callable[[str], None], *,
        concurrency: int = 1000, on_error: OnError | None = None,
        argv: tuple[str, ...] | None = None,
    ) -> None:  # fmt: skip
        self._on_result = on_result
        self._on_error = on_error or self._unhandled
        self._loop = asyncio.get_running_loop()
        argv = argv or WORKER_ARGV
        self.slots = [WorkerSlot(index, self._deliver, log, concurrency, argv)
                      for index in range(count)]  # fmt: skip

    def update(self, plans: Mapping[str, CheckPlan], maintenancedir: str | None) -> None:
        """Check exactly ``plans`` from now on; a kept real keeps its timer in its worker."""
        for slot, shard in zip(self.slots, shards(plans, len(self.slots)), strict=True):
            slot.assign(shard, maintenancedir)

    async def ready(self) -> None:
        """Until every worker with reals to check is up: a new interpreter takes a moment to
        import the checks, which the director's first round should not count against."""
        await asyncio.gather(*(slot.ready() for slot in self.slots))

    def check_now(self, key: str) -> None:
        self.slots[shard_of(key, len(self.slots))].check_now(key)

    async def close(self) -> None:
        await asyncio.gather(*(slot.close() for slot in self.slots))

    @property
    def overloaded(self) -> bool:
        return any(slot.stats.overloaded for slot in self.slots)

    @property
    def lag(self) -> float:
        return max(slot.stats.lag for slot in self.slots)

    @property
    def inconclusive(self) -> int:
        return sum(slot.inconclusive for slot in self.slots)

    @property
    def completed(self) -> int:
        return sum(slot.completed for slot in self.slots)

    def overdue(self, now: float) -> int:
        return sum(slot.overdue(now) for slot in self.slots)

    def _deliver(self, results: Results) -> None:
        now = self._loop.time()
        for row in results.rows:
            key, result, age = result_of(row)
            try:
                self._on_result(key, result, now - age)
            except Exception as error:  # as in Scheduler: one real's bookkeeping, not all
                self._on_error(key, error)

    def _unhandled(self, key: str, error: Exception) -> None:
        self._loop.call_exception_handler(
            {"message": f"result of {key} failed", "exception": error}
        )
