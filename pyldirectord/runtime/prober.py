"""Runs one plan's check: maintenance first, then the check the plan names (edge).

A real in maintenance (spec 3.7) is not checked at all. ``checktype=N`` keeps its connect
counter here, per plan, between rounds. A check we cannot run is refused with the config
(``core.checksupport``); should one get here anyway, its real is down with the reason, never
up, and never checked by something weaker (a connect or a ping) in its place.

This is the one place every check passes through, for the daemon and for ``--probe`` alike,
so containment lives here (docs/design.md, "Containment"): whatever a check raises becomes
its DOWN verdict with a reason naming the error (``faults.fault_reason``), and every reason
leaves here printable and bounded in length.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from pyldirectord.checks.base import CheckFn, CheckResult, CheckSpec, Target, bracket
from pyldirectord.checks.combined import Combined, Kind
from pyldirectord.checks.engine import Flight
from pyldirectord.checks.registry import Checkers, UnsupportedCheck
from pyldirectord.core.checkplan import CheckPlan
from pyldirectord.core.faults import FaultLog, fault_reason, printable
from pyldirectord.core.health import ProbeResult
from pyldirectord.runtime.maintenance import MaintenanceDir


def timed_out(timeout: float) -> ProbeResult:
    """The scheduler's verdict when a check overran its own bound (a check bug, not the real)."""
    return ProbeResult(False, f"timeout after {timeout:g}s", timeout)


def negotiate_check(checkers: Checkers, spec: CheckSpec) -> tuple[CheckFn, str | None]:
    """The check for a spec; when there is none, one that says why, down, and that note."""
    try:
        return checkers.lookup(spec.checktype, spec.service, spec.protocol), None
    except UnsupportedCheck as why:
        note = f"not checked: {why}"

        async def refused(target: Target, spec: CheckSpec) -> CheckResult:
            return CheckResult(False, note, 0.0)

        return refused, note


class Prober:
    def __init__(
        self, plan: CheckPlan, checkers: Checkers, maintenance: MaintenanceDir | None,
        faults: FaultLog | None = None,
    ) -> None:  # fmt: skip
        self.plan = plan
        self._maintenance = maintenance
        self._faults = faults
        self._check, self.note = negotiate_check(checkers, plan.spec)
        self._connect = checkers.lookup("connect", plan.spec.service, plan.spec.protocol)
        self._connect_spec = replace(plan.spec, checktype="connect")
        connects = plan.combined_connects
        self._combined = Combined(connects) if connects is not None else None
        # The same checks as engine flights (no Task per round), where they exist.
        self._negotiate_flight = checkers.flights(plan.spec.checktype, plan.target, plan.spec)
        self._connect_flight = checkers.flights("connect", plan.target, self._connect_spec)
        self._kind: Kind = "negotiate"  # what the flight in progress checks

    async def __call__(self) -> ProbeResult:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            result = await self._probe()
        except Exception as error:  # any failure inside a check is that check's verdict
            self._fault(error)
            return ProbeResult(False, fault_reason(error), loop.time() - started)
        return replace(result, reason=printable(result.reason))

    # --- the fast path (runtime/scheduler.py: FastPath) -------------------------------------

    def flight(self) -> tuple[Flight, float] | None:
        """This round's check as a flight, or None: the round runs as a coroutine instead.

        A real under a maintenance directory takes the coroutine path (its file lookups may
        need DNS), as does any check without a flight."""
        if self._maintenance is not None or self.note:
            return None
        kind: Kind = "negotiate" if self._combined is None else self._combined.next_check()
        maker = self._negotiate_flight if kind == "negotiate" else self._connect_flight
        if maker is None:
            return None
        self._kind = kind
        return maker()

    def verdict(self, result: CheckResult, error: BaseException | None) -> ProbeResult:
        """A flight's result as the probe's, contained and printable as ``__call__``'s."""
        if error is not None:
            self._fault(error)
            return ProbeResult(False, fault_reason(error), result.elapsed)
        kind = self._kind
        if self._combined is not None:
            self._combined = self._combined.after(kind, result.ok)
        negotiated = kind == "negotiate" and self.plan.spec.checktype == "negotiate"
        return ProbeResult(result.ok, printable(result.reason), result.elapsed,
                           negotiated=negotiated)  # fmt: skip

    def _fault(self, error: BaseException) -> None:
        if self._faults is not None:
            target = self.plan.target
            shown = f"{bracket(target.ip)}:{target.real_port or target.port}"
            self._faults.check_failed(self.plan.key, shown, error)

    async def _probe(self) -> ProbeResult:
        if self._maintenance is not None:
            target = self.plan.target
            name = await self._maintenance.match(target.ip, target.real_port)
            if name is not None:
                return ProbeResult(False, "Server in maintenance", 0.0, maintenance=True)
        result, kind = await self._run()
        negotiated = kind == "negotiate" and self.plan.spec.checktype == "negotiate"
        negotiated = negotiated and not self.note  # a refused check has no reply to give
        return ProbeResult(result.ok, result.reason, result.elapsed, negotiated=negotiated)

    async def _run(self) -> tuple[CheckResult, Kind]:
        if self._combined is None:
            return await self._check(self.plan.target, self.plan.spec), "negotiate"
        kind = self._combined.next_check()
        if kind == "connect":
            result = await self._connect(self.plan.target, self._connect_spec)
        else:
            result = await self._check(self.plan.target, self.plan.spec)
        self._combined = self._combined.after(kind, result.ok)
        return result, kind
