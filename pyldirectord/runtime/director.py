"""The loop: check results -> health -> desired table -> diff -> apply -> log, alerts, state.

Glue only: every decision is a pure function elsewhere (health.observe, desired_table, diff,
changes.describe); this module owns the order of things and the tasks that do I/O. All kernel
changes go through one lock, so a reload, a stop and the check results never interleave
their operations.

Nothing here dies silently (docs/design.md, "Containment"): a check that raises is DOWN
(prober), a fault in a real's round is logged and its timer carries on (scheduler), the
reconcile loop is restarted after a fault, and a one-shot task's fault is logged; each with
its traceback, once per place and error type (faults.FaultLog).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Collection, Coroutine, Sequence
from typing import Any, Protocol

from pyldirectord.checks.registry import Checkers
from pyldirectord.config.model import (
    Config,
    DaemonStatus,
    Virtual,
    bracketed,
    effective_failurecount,
    effective_fallbackcommand,
    effective_risecount,
    virtual_id,
)
from pyldirectord.core.changes import Change, describe, stop_changes
from pyldirectord.core.checkplan import CheckPlan, Member, bound_of, check_plans
from pyldirectord.core.desired import (
    HealthKey,
    desired_table,
    health_key,
    owned_services,
    seed_health,
    service_dest,
    service_key,
)
from pyldirectord.core.events import RealEvent
from pyldirectord.core.faults import FaultLog
from pyldirectord.core.health import Observation, Outcome, Policy, RealHealth, observe
from pyldirectord.core.reconcile import DeleteService, Op, diff
from pyldirectord.core.table import IpvsTable
from pyldirectord.kernel.ipvs import IpvsApplyError
from pyldirectord.notify.fallbackcommand import run_fallbackcommand
from pyldirectord.notify.log import Log
from pyldirectord.notify.monitor import MonitorFile
from pyldirectord.notify.statefile import DirectorState, RealState, VirtualState, write_state
from pyldirectord.runtime.maintenance import MaintenanceDir, ReverseNameCache
from pyldirectord.runtime.prober import Prober, ProbeResult, timed_out
from pyldirectord.runtime.scheduler import Scheduler, Unit
from pyldirectord.runtime.watch import DirectoryWatcher


class TableBackend(Protocol):
    """The kernel's IPVS table (``ipvs.Ipvs``), or an in-memory one in tests."""

    async def read_table(self) -> IpvsTable: ...

    async def apply(self, ops: Sequence[Op]) -> None: ...


# Check kinds whose results the reference does not write to the monitorfile (spec 6.3).
UNMONITORED = frozenset({"on", "external-perl"})
# A pass over a big table costs (5,000 reals: a good part of a second in the sandbox). After a
# pass the reconciler rests this many times as long as the pass took, at most RECONCILE_REST_MAX
# seconds, so that table work stays under about a quarter of the loop's time while changes
# batch up; a small farm's pass takes milliseconds, so its changes still apply at once.
RECONCILE_REST = 3.0
RECONCILE_REST_MAX = 2.0
# Seconds between state file writes at least (each is O(reals)), and ten times what the last
# write took: the file is for `status` and tooling, never worth a tenth of the loop.
STATE_EVERY = 1.0
# A background loop that failed is restarted after this long, doubled on each failure in a
# row up to RESTART_MAX, so a fault that repeats cannot spin the CPU or flood the log.
RESTART_DELAY = 1.0
RESTART_MAX = 60.0


class Director:
    def __init__(
        self,
        config: Config,
        backend: TableBackend,
        checkers: Checkers,
        log: Log,
        *,
        notify: Callable[[RealEvent], None] | None = None,
        state_path: str | None = None,
        concurrency: int = 1000,
    ) -> None:
        self.config = config
        self.health: dict[HealthKey, RealHealth] = {}
        self.status: DaemonStatus = "starting"
        self._backend = backend
        self._checkers = checkers
        self._log = log
        self._notify = notify or (lambda _event: None)
        self._state_path = state_path
        self._loop = asyncio.get_running_loop()
        self.faults = FaultLog(log.log)
        self._scheduler = Scheduler[ProbeResult](
            self._on_result, timed_out, concurrency, on_error=self._round_failed
        )
        self._plans: dict[str, CheckPlan] = {}
        self._lock = asyncio.Lock()
        self._dirty = asyncio.Event()
        self._reported: set[str] = set()
        self._all_reported = asyncio.Event()
        self._fallback_memo: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._monitors: dict[str, MonitorFile] = {}
        self._maintenance: MaintenanceDir | None = None
        self._maintenance_watch: DirectoryWatcher | None = None
        self._state_written = -STATE_EVERY  # loop time of the last state file write
        self._state_gap = STATE_EVERY
        self._state_pending: asyncio.TimerHandle | None = None
        self._state_desired: IpvsTable | None = None
        self._logged_overload = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self, settle: float = 2.0) -> None:
        """Adopt what the kernel serves, check every real once, then program the table.

        Holding the first apply until each real has been checked once (bounded by
        ``settle``) is what spares the reference's start-up churn: no real is added only to
        be removed, and no fallback flaps in and out on a healthy farm.
        """
        actual = await self._backend.read_table()
        self.health = seed_health(self.config, actual, {})
        self._install(self.config)
        try:
            async with asyncio.timeout(settle):
                await self._all_reported.wait()
        except TimeoutError:
            pass
        await self.reconcile()
        self.status = "running"
        loop_name = "the reconcile loop"
        self._spawn(self._supervised(loop_name, self._reconcile_loop), loop_name)

    async def reload(self, new: Config) -> None:
        """Swap to a config that parsed and resolved: health carried by (virtual, real)."""
        self.status = "reloading"
        old = self.config
        async with self._lock:
            actual = await self._backend.read_table()
            self.health = seed_health(new, actual, self.health)
            self.config = new
            self._install(new)
            await self._reconcile_locked(actual, (new, old))
        self.status = "running"

    async def stop(self) -> None:
        """Stop checking; with cleanstop, remove our virtual services (spec 3.11)."""
        self.status = "stopping"
        self._watch_maintenance(None)
        await self._scheduler.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        async with self._lock:
            actual = await self._backend.read_table()
            keys = [service_key(v) for v in self.config.virtuals if self._cleanstop(v)]
            keys = [key for key in dict.fromkeys(keys) if key in actual.services]
            changes = stop_changes(actual, self.config, keys, self._loop.time())
            await self._apply([DeleteService(key) for key in keys], changes)
        if self._state_pending is not None:
            self._state_pending.cancel()
        if self._state_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._state_path)

    def _cleanstop(self, virtual: Virtual) -> bool:
        cleanstop = virtual.cleanstop
        return self.config.globals.cleanstop if cleanstop is None else cleanstop

    @property
    def overloaded(self) -> bool:
        return self._scheduler.overloaded

    # ------------------------------------------------------------------ checks

    def _install(self, config: Config) -> None:
        self._plans = check_plans(config)
        self._watch_maintenance(config.globals.maintenancedir)
        self._monitors = {
            v.monitorfile: self._monitors.get(v.monitorfile)
            or MonitorFile(v.monitorfile, self._log)
            for v in config.virtuals
            if v.monitorfile
        }
        units = {}
        for key, plan in self._plans.items():
            prober = Prober(plan, self._checkers, self._maintenance, self.faults)
            if prober.note:
                self._log.log(f"Warning: {plan.target.ip}:{plan.target.port}: {prober.note}")
            units[key] = Unit(key, prober, bound_of(plan), plan.interval)
        self._reported &= set(units)
        if not units or self._reported == set(units):
            self._all_reported.set()
        self._scheduler.update(units)

    def _watch_maintenance(self, directory: str | None) -> None:
        """Checks consult the maintenance dir every time; watching it as well makes a drain
        (a file created) or a return (a file removed) take effect at once, not a round later."""
        if self._maintenance is not None and self._maintenance.directory == directory:
            return
        if self._maintenance_watch is not None:
            self._maintenance_watch.close()
            self._maintenance_watch = None
        self._maintenance = None
        if directory is None:
            return
        self._maintenance = MaintenanceDir(directory, ReverseNameCache())
        try:
            self._maintenance_watch = DirectoryWatcher(directory, self._recheck_all)
        except OSError as error:  # not there yet: checks still look, once per round
            self._log.log(f"cannot watch maintenance directory {directory}: {error.strerror}")

    def _recheck_all(self) -> None:
        for key in self._plans:
            self._scheduler.check_now(key)

    def _round_failed(self, key: str, error: Exception) -> None:
        """A fault in the director's handling of one real's round (its timer carries on)."""
        self.faults.director_failed(f"the round of real server {key}", error)

    def _on_result(self, key: str, result: ProbeResult, at: float) -> None:
        plan = self._plans.get(key)
        if plan is None:
            return  # a result for a real a reload just removed
        seen = Observation(result.ok, result.reason, at, result.maintenance)
        changed = False
        for member in plan.members:
            changed |= self._observe(member, seen)
            self._monitor(member, plan, result)
        self._reported.add(key)
        if len(self._reported) == len(self._plans):
            self._all_reported.set()
        if changed:
            self._dirty.set()

    def _observe(self, member: Member, seen: Observation) -> bool:
        virtual, real = member.virtual, member.real
        hkey = health_key(virtual, real)
        policy = Policy(
            failurecount=effective_failurecount(virtual, self.config.globals),
            risecount=effective_risecount(virtual, self.config.globals),
        )
        outcome = observe(self.health.get(hkey, RealHealth()), seen, policy)
        self.health[hkey] = outcome.health
        self._log_soft(virtual, real.host, real.port, outcome, policy)
        return outcome.changed

    def _log_soft(
        self, virtual: Virtual, host: str, port: int, outcome: Outcome, policy: Policy
    ) -> None:
        where = f"{bracketed(host)}:{port} ({virtual_id(virtual)})"
        if outcome.reset_failures:
            self._log.log(f"Resetting soft failure count: {where}")
        if outcome.soft_failure:
            n, m = outcome.soft_failure, policy.failurecount
            self._log.log(f"Soft failure real server: {where} failure {n}/{m}")

    def _monitor(self, member: Member, plan: CheckPlan, result: ProbeResult) -> None:
        virtual = member.virtual
        monitor = self._monitors.get(virtual.monitorfile or "")
        if monitor is None or virtual.checktype in UNMONITORED:
            return
        if virtual.checktype == "ping" and not result.ok:
            return  # the reference writes no line for a failed ping
        message = result.reason if not result.ok else "-"
        monitor.write(plan.key, "up" if result.ok else "down", message)

    # ------------------------------------------------------------------ the table

    async def _reconcile_loop(self) -> None:
        """Reconcile on every change, and every interval anyway to repair drift."""
        while True:
            try:
                async with asyncio.timeout(self.config.globals.checkinterval):
                    await self._dirty.wait()
            except TimeoutError:
                pass
            self._dirty.clear()
            started = self._loop.time()
            await self.reconcile()
            took = self._loop.time() - started
            await asyncio.sleep(min(took * RECONCILE_REST, RECONCILE_REST_MAX))

    async def reconcile(self) -> None:
        async with self._lock:
            try:
                actual = await self._backend.read_table()
            except Exception as error:  # the kernel edge's errors are already worded
                self._log.log(f"IPVS: {error}")
                return
            await self._reconcile_locked(actual, (self.config,))

    async def _reconcile_locked(self, actual: IpvsTable, configs: Sequence[Config]) -> None:
        desired = desired_table(self.config, self.health, actual)
        ops = diff(actual, desired, owned_services(*configs))
        changes = describe(ops, configs, self.health, self._loop.time())
        await self._apply(ops, changes, per_op=True)
        self._run_fallbackcommands()
        self._write_state(desired)
        self._log_overload()

    def _log_overload(self) -> None:
        """One line when the director falls behind and one when it catches up (decisions.md:
        logged and exposed); `status` shows it too, from the state file."""
        overloaded = self.overloaded
        if overloaded == self._logged_overload:
            return
        self._logged_overload = overloaded
        self._log.log(
            "Overloaded: checks fall behind their interval; a late deadline is forgiven, "
            "never blamed on a real"
            if overloaded
            else "No longer overloaded: checks keep their interval"
        )

    async def _apply(
        self, ops: Sequence[Op], changes: Sequence[Change], *, per_op: bool = False
    ) -> None:
        """Apply, then log and alert. With ``per_op`` (``changes[i]`` describes ``ops[i]``)
        a refused operation is reported as the failure it is, not as done: it is retried at
        the next pass and reported when it succeeds, instead of logged and mailed each pass."""
        if not ops:
            return
        failed: Collection[Op] = ()
        try:
            await self._backend.apply(ops)
        except IpvsApplyError as error:  # the rest of the batch was applied
            self._log.log(f"IPVS: {error}")
            failed = {failure.op for failure in error.failures}
        except Exception as error:  # nothing is known to be applied; the next pass retries
            self._log.log(f"IPVS: {error}")
            failed = ops
        if per_op:
            changes = [c for op, c in zip(ops, changes, strict=True) if op not in failed]
        for change in changes:
            self._log.log(change.log)
            if change.event is not None:
                self._notify(change.event)

    def _run_fallbackcommands(self) -> None:
        for virtual in self.config.virtuals:
            command = effective_fallbackcommand(virtual, self.config.globals)
            if command is None:
                continue
            up = any(
                self.health.get(health_key(virtual, r), RealHealth()).up for r in virtual.reals
            )
            action = "stop" if up else "start"
            vid = virtual_id(virtual)
            if self._fallback_memo.get(vid) == action:
                continue
            self._fallback_memo[vid] = action
            work = run_fallbackcommand(command, action, virtual, self._log)
            self._spawn(work, f"fallbackcommand {action} for {vid}")

    async def _supervised(
        self, name: str, loop_body: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        """Run a background loop for good: a fault is logged and the loop started again."""
        delay = RESTART_DELAY
        while True:
            started = self._loop.time()
            try:
                await loop_body()
                return
            except Exception as error:
                self.faults.director_failed(name, error)
            if self._loop.time() - started > RESTART_MAX:
                delay = RESTART_DELAY  # it ran well for a while: a new fault, not a streak
            self._log.log(f"Restarting {name} in {delay:g}s after an internal error")
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = self._loop.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            self.faults.director_failed(task.get_name(), error)

    def _write_state(self, desired: IpvsTable) -> None:
        """Now, or (a write less than STATE_EVERY ago) once that much time has passed."""
        self._state_desired = desired  # the newest pass's table, for a write that is due
        if self._state_path is None or self._state_pending is not None:
            return  # a write is already due: it will show this table and the health then
        wait = self._state_written + self._state_gap - self._loop.time()
        if wait <= 0:
            self._write_state_now(desired)
        else:
            self._state_pending = self._loop.call_later(wait, self._write_pending_state)

    def _write_pending_state(self) -> None:
        self._state_pending = None
        if self._state_desired is not None:
            self._write_state_now(self._state_desired)

    def _write_state_now(self, desired: IpvsTable) -> None:
        assert self._state_path is not None
        self._state_written = self._loop.time()
        try:
            self._write_state_file(desired)
        finally:
            took = self._loop.time() - self._state_written
            self._state_gap = max(STATE_EVERY, 10 * took)

    def _write_state_file(self, desired: IpvsTable) -> None:
        assert self._state_path is not None
        offset = time.time() - self._loop.time()
        virtuals = []
        for virtual in self.config.virtuals:
            key = service_key(virtual)
            reals = []
            for real in virtual.reals:
                health = self.health.get(health_key(virtual, real), RealHealth())
                dest = service_dest(virtual, key, real, True).key
                live = desired.reals(key).get(dest)
                when = None if health.last_check is None else health.last_check + offset
                weight = 0 if live is None else live.weight
                reals.append(RealState(str(dest), health.state.value, weight, when, health.reason))
            virtuals.append(VirtualState(virtual_id(virtual), tuple(reals)))
        state = DirectorState(
            os.getpid(), self.config.path, time.time(), tuple(virtuals), self.overloaded
        )
        try:
            write_state(self._state_path, state)
        except OSError as error:
            self._log.log(f"cannot write state file {self._state_path}: {error.strerror}")
