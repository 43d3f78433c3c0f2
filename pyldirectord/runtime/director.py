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
import functools
import os
import time
from collections.abc import Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pyldirectord.checks.registry import Checkers
from pyldirectord.config.model import (
    Config,
    Real,
    Virtual,
    bracketed,
    effective_cleanstop,
    effective_failurecount,
    effective_risecount,
    virtual_id,
)
from pyldirectord.core.changes import (
    Change,
    describe,
    dests_of,
    first_down_changes,
    stop_changes,
)
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
from pyldirectord.core.health import Outcome, Policy, ProbeResult, RealHealth, State, observe
from pyldirectord.core.ipvsops import DeleteService, IpvsApplyError, Op
from pyldirectord.core.observer import Observer, Observers, Transition, check_label
from pyldirectord.core.overrides import EditsByHand, kept_text
from pyldirectord.core.reconcile import diff
from pyldirectord.core.table import DestKey, IpvsTable, ServiceKey
from pyldirectord.notify.fallbackcommand import FallbackMemory, InOrder, run_fallbackcommand
from pyldirectord.notify.log import Log
from pyldirectord.notify.monitor import MonitorFile, monitor_entry
from pyldirectord.notify.statefile import DirectorState
from pyldirectord.runtime.maintenance import MaintenanceDir, ReverseNameCache
from pyldirectord.runtime.prober import Prober, negotiate_check, timed_out
from pyldirectord.runtime.scheduler import Scheduler, Unit
from pyldirectord.runtime.statewriter import StateFileWriter, snapshot
from pyldirectord.runtime.watch import DirectoryWatcher
from pyldirectord.runtime.workers import WorkerPool, worker_count


class ReloadRefused(Exception):
    """A reload that was undone: the running config and table are the old ones."""


@dataclass(frozen=True, slots=True)
class Applied:
    """What one apply left undone: the operations that failed, and the kernel's refusal
    (anything but a race, which the next pass repairs) if there was one."""

    failed: Collection[Op] = ()
    refusal: Exception | None = None


def _new_refusal(applied: Applied, pending: Collection[Op]) -> str | None:
    """Why the kernel refused an operation that only the new config asked for, if it did."""
    refusal = applied.refusal
    if refusal is None:
        return None
    if not isinstance(refusal, IpvsApplyError):
        return str(refusal)  # nothing is known to be applied
    fresh = [f for f in refusal.failures if not f.is_race and f.op not in pending]
    return str(fresh[0]) if fresh else None


class TableBackend(Protocol):
    """The kernel's IPVS table (``ipvs.Ipvs``), or an in-memory one in tests."""

    async def read_table(self) -> IpvsTable: ...

    async def apply(self, ops: Sequence[Op]) -> None: ...


# A pass over a big table costs (5,000 reals: a good part of a second in the sandbox). After a
# pass the reconciler rests this many times as long as the pass took, at most RECONCILE_REST_MAX
# seconds, so that table work stays under about a quarter of the loop's time while changes
# batch up; a small farm's pass takes milliseconds, so its changes still apply at once.
RECONCILE_REST = 3.0
RECONCILE_REST_MAX = 2.0
# A background loop that failed is restarted after this long, doubled on each failure in a
# row up to RESTART_MAX, so a fault that repeats cannot spin the CPU or flood the log.
RESTART_DELAY = 1.0
RESTART_MAX = 60.0
# At start, how long the director waits for its check workers to be up (a new interpreter
# importing the checks: a fraction of a second, more on a loaded host) before the settle.
WORKERS_START = 10.0


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
        observer: Observer | None = None,
    ) -> None:
        self.config = config
        self.health: dict[HealthKey, RealHealth] = {}
        self._backend = backend
        self._checkers = checkers
        self._log = log
        self._notify = notify or (lambda _event: None)
        self._loop = asyncio.get_running_loop()
        self.faults = FaultLog(log.log)
        # workers=1: checks in this loop; more: in worker processes (runtime/workers.py),
        # which the director drives through the same interface. Read at start only.
        self._workers = worker_count(config.globals.workers)
        self._scheduler: Scheduler[ProbeResult] | WorkerPool = (
            Scheduler[ProbeResult](
                self._on_result, timed_out, concurrency, on_error=self._round_failed
            )
            if self._workers == 1
            else WorkerPool(self._workers, self._on_result, log.log, concurrency=concurrency,
                            on_error=self._round_failed)
        )  # fmt: skip
        self._plans: dict[str, CheckPlan] = {}
        self._lock = asyncio.Lock()
        self._dirty = asyncio.Event()
        self._reported: set[str] = set()
        self._all_reported = asyncio.Event()
        self._fallbacks = FallbackMemory()
        self._fallback_order = InOrder()  # one fallbackcommand at a time per virtual
        # Reals whose first check failed since the last pass: the reference logs each (spec 3.2).
        self._first_down: list[tuple[Virtual, Real]] = []
        self._written: set[tuple[ServiceKey, DestKey]] = set()  # reals written since (re)load
        self._edits = EditsByHand()  # a manual drain holds until health changes or a reload
        self._tasks: set[asyncio.Task[None]] = set()
        self._monitors: dict[str, MonitorFile] = {}
        self._maintenance: MaintenanceDir | None = None
        self._maintenance_watch: DirectoryWatcher | None = None
        self._desired = IpvsTable()  # the last pass's table, for the state file
        self._state_file = (
            None if state_path is None
            else StateFileWriter(state_path, self._snapshot, log, self._loop)
        )  # fmt: skip
        self._logged_overload = False
        self._observer: Observer = observer or Observers()
        self._check_labels: dict[str, str] = {}  # plan key -> check_label, for the observer

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
        if isinstance(self._scheduler, WorkerPool):  # the settle counts from their first checks
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WORKERS_START):
                    await self._scheduler.ready()
        try:
            async with asyncio.timeout(settle):
                await self._all_reported.wait()
        except TimeoutError:
            pass
        await self.reconcile()
        loop_name = "the reconcile loop"
        self._spawn(self._supervised(loop_name, self._reconcile_loop), loop_name)

    async def reload(self, new: Config) -> None:
        """Swap to a config that parsed and resolved: health carried by (virtual, real).

        All or nothing: if the new config cannot be installed, or the kernel refuses part of
        its table, the old config, checks and table come back and ``ReloadRefused`` says
        why (the caller logs it); a race (the table changed behind our back) is not a
        refusal, the next pass repairs it.
        """
        old, old_health = self.config, self.health
        old_edits, old_written = self._edits, self._written
        try:
            async with self._lock:
                actual = await self._backend.read_table()
                health = seed_health(new, actual, self.health)
                desired_table(new, health, actual)  # a model error changes nothing yet
                # What the old config already asks for in vain (e.g. a real the kernel
                # refuses at every pass) is no reason to refuse the new one.
                pending = set(diff(actual, desired_table(old, self.health, actual),
                                   owned_services(old)))  # fmt: skip
                self.health, self.config = health, new
                if worker_count(new.globals.workers) != self._workers:
                    self._log.log(f"workers= takes effect at the next start; checks keep "
                                  f"running in {self._workers} process(es)")  # fmt: skip
                # A reload re-applies every weight, as the reference's does: edits by hand
                # end, and nothing written before counts as ours (fresh objects, so that a
                # refused reload can put the old ones back untouched).
                self._edits, self._written = EditsByHand(), set()
                self._install(new)
                applied = await self._reconcile_locked(actual, (new, old))
                reason = _new_refusal(applied, pending)
                if reason is not None:
                    raise ReloadRefused(f"IPVS refused the new table: {reason}")
        except BaseException as error:
            self._edits, self._written = old_edits, old_written
            await self._restore(old, old_health, new)
            if isinstance(error, ReloadRefused | asyncio.CancelledError):
                raise
            raise ReloadRefused(f"{type(error).__name__}: {error}") from error

    async def _restore(self, old: Config, old_health: dict[HealthKey, RealHealth],
                       new: Config) -> None:  # fmt: skip
        """Back to ``old``: its checks, and its table (whatever of ``new`` was applied goes)."""
        self.config, self.health = old, {**old_health, **{
            key: health for key, health in self.health.items() if key in old_health}}
        self._install(old)
        async with self._lock:
            try:
                actual = await self._backend.read_table()
            except Exception as error:
                self._log.log(f"IPVS: {error}")
                return
            await self._reconcile_locked(actual, (old, new))

    async def stop(self) -> None:
        """Stop checking; with cleanstop, remove our virtual services (spec 3.11)."""
        self._watch_maintenance(None)
        await self._scheduler.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        async with self._lock:
            actual = await self._backend.read_table()
            keys = [
                service_key(v) for v in self.config.virtuals
                if effective_cleanstop(v, self.config.globals)
            ]  # fmt: skip
            keys = [key for key in dict.fromkeys(keys) if key in actual.services]
            changes = stop_changes(actual, self.config, keys, self._loop.time())
            await self._apply([DeleteService(key) for key in keys], changes)
        if self._state_file is not None:
            self._state_file.close()

    @property
    def overloaded(self) -> bool:
        return self._scheduler.overloaded

    @property
    def scheduler(self) -> Scheduler[ProbeResult] | WorkerPool:
        """For the metrics and the watchdog: lag, inconclusive results, progress."""
        return self._scheduler

    # ------------------------------------------------------------------ checks

    def _install(self, config: Config) -> None:
        self._plans = check_plans(config)
        self._check_labels = {
            key: check_label(plan.spec, plan.combined_connects is not None)
            for key, plan in self._plans.items()
        }
        self._watch_maintenance(config.globals.maintenancedir)
        self._monitors = {
            v.monitorfile: self._monitors.get(v.monitorfile)
            or MonitorFile(v.monitorfile, self._log)
            for v in config.virtuals
            if v.monitorfile
        }
        if isinstance(self._scheduler, WorkerPool):
            for plan in self._plans.values():  # the workers' probers keep quiet about it
                self._log_note(plan, negotiate_check(self._checkers, plan.spec)[1])
            self._scheduler.update(self._plans, config.globals.maintenancedir)
        else:
            units = {}
            for key, plan in self._plans.items():
                prober = Prober(plan, self._checkers, self._maintenance, self.faults)
                self._log_note(plan, prober.note)
                units[key] = Unit(key, prober, bound_of(plan), plan.interval, prober)
            self._scheduler.update(units)
        self._reported &= set(self._plans)
        if not self._plans or self._reported == set(self._plans):
            self._all_reported.set()

    def _log_note(self, plan: CheckPlan, note: str | None) -> None:
        if note:
            self._log.log(f"Warning: {plan.target.ip}:{plan.target.port}: {note}")

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
        if not result.maintenance:
            self._observer.checked(self._check_labels[key], result.ok, result.elapsed)
        changed = False
        for member in plan.members:
            changed |= self._observe(member, result, at)
            self._monitor(member, plan, result)
        self._reported.add(key)
        if len(self._reported) == len(self._plans):
            self._all_reported.set()
        if changed:
            self._dirty.set()

    def _observe(self, member: Member, seen: ProbeResult, at: float) -> bool:
        virtual, real = member.virtual, member.real
        hkey = health_key(virtual, real)
        policy = Policy(
            failurecount=effective_failurecount(virtual, self.config.globals),
            risecount=effective_risecount(virtual, self.config.globals),
        )
        before = self.health.get(hkey, RealHealth())
        outcome = observe(before, seen, at, policy)
        self.health[hkey] = outcome.health
        if outcome.changed:  # the new state's weight wins over an edit by hand
            key = service_key(virtual)
            self._edits.health_changed(key, service_dest(virtual, key, real, True).key)
            if before.state is State.UNKNOWN and not outcome.health.up:
                self._first_down.append((virtual, real))
        self._log_soft(virtual, real.host, real.port, outcome, policy)
        if outcome.changed:
            after = outcome.health
            self._observer.transition(Transition(
                time.time(), hkey[0], hkey[1], before.state.value, after.state.value,
                after.reason, after.latency,
            ))  # fmt: skip
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
        entry = monitor_entry(virtual.checktype, plan.spec.service, result.ok, result.reason,
                              negotiated=result.negotiated, maintenance=result.maintenance)
        if monitor is not None and entry is not None:
            monitor.write(plan.key, *entry)

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

    async def _reconcile_locked(self, actual: IpvsTable, configs: Sequence[Config]) -> Applied:
        """Apply what the table lacks; what failed, and the kernel's refusal if any."""
        wanted = desired_table(self.config, self.health, actual, now=self._loop.time())
        desired, noticed = self._edits.desired(wanted, actual)
        for service, key in noticed:
            self._log.log(kept_text(service, desired.reals(service)[key]))
        ops = diff(actual, desired, owned_services(*configs))
        changes = describe(ops, configs, self.health, self._loop.time())
        applied = await self._apply(ops, changes, per_op=True)
        failed = applied.failed
        self._edits.applied(desired, failed)
        self._written |= dests_of(op for op in ops if op not in failed)
        first_down, self._first_down = self._first_down, []
        self._report(first_down_changes(first_down, desired, self._written, self._loop.time()))
        for run in self._fallbacks.due(self.config, self.health):
            vid = virtual_id(run.virtual)
            self._spawn(self._fallback_order.run(vid, functools.partial(
                run_fallbackcommand, run.command, run.action, run.virtual, self._log)),
                f"fallbackcommand {run.action} for {vid}")  # fmt: skip
        self._desired = desired
        if self._state_file is not None:
            self._state_file.publish()
        self._log_overload()
        return applied

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
    ) -> Applied:
        """Apply, then log and alert; what failed. With ``per_op`` (``changes[i]`` describes
        ``ops[i]``) a refused operation is reported as the failure it is, not as done: it is
        retried at the next pass and reported when it succeeds, instead of logged and mailed
        each pass."""
        if not ops:
            return Applied()
        failed: Collection[Op] = ()
        refusal: Exception | None = None
        try:
            await self._backend.apply(ops)
        except IpvsApplyError as error:  # the rest of the batch was applied
            self._log.log(f"IPVS: {error}")
            failed = {failure.op for failure in error.failures}
            refusal = None if error.is_race else error
        except Exception as error:  # nothing is known to be applied; the next pass retries
            self._log.log(f"IPVS: {error}")
            failed, refusal = ops, error
        self._observer.applied(len(ops) - len(failed), len(failed))
        if per_op:
            changes = [c for op, c in zip(ops, changes, strict=True) if op not in failed]
        self._report(changes)
        return Applied(failed, refusal)

    def _report(self, changes: Sequence[Change]) -> None:
        for change in changes:
            self._log.log(change.log)
            if change.event is not None:
                self._notify(change.event)

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

    def snapshot(self) -> DirectorState:
        """What the state file shows, as of now (the table of the newest pass): for `/status`."""
        return self._snapshot()

    def _snapshot(self) -> DirectorState:
        return snapshot(
            self.config, self.health, self._desired, pid=os.getpid(), written_at=time.time(),
            wall_offset=time.time() - self._loop.time(), overloaded=self.overloaded,
            by_hand=self._edits.kept.keys(),
        )  # fmt: skip
