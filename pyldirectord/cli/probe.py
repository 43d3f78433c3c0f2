"""``pyldirectord --probe [CONFIG]``: run every configured check once, now, and say what it saw.

The checks are the daemon's own: ``probes.check_plans`` maps the config to plans, a
``prober.Prober`` runs each (maintenance first, then the check the registry names), all at
once under a bound. One line per (virtual, real), in config order:

    VIRTUAL  REAL  CHECK  UP|DOWN  ELAPSED ms  REASON

Exit 0 when every real is up, 1 otherwise; an invalid config is reported as
``--check-config`` does (``FILE:LINE: error: ...``, exit 1). Nothing touches IPVS.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from pyldirectord.checks.registry import Checkers
from pyldirectord.cli.checkconfig import DEFAULT_CONFIG, load_reporting
from pyldirectord.config.model import Config, bracketed, check_name, real_id, virtual_id
from pyldirectord.core.checkplan import CheckPlan, bound_of, check_plans
from pyldirectord.core.health import ProbeResult
from pyldirectord.runtime import fdlimit, loops
from pyldirectord.runtime.maintenance import MaintenanceDir, ReverseNameCache
from pyldirectord.runtime.prober import Prober, timed_out

EXIT_ALL_UP = 0
EXIT_NOT_ALL_UP = 1
EXIT_INVALID = 1
CONCURRENCY = 1000
NEVER_CHECKED = ProbeResult(False, "checktype off: never checked, never brought up", 0.0)


@dataclass(frozen=True, slots=True)
class ProbeLine:
    virtual: str
    real: str
    check: str
    result: ProbeResult

    def columns(self) -> tuple[str, ...]:
        state = "UP" if self.result.ok else "DOWN"
        elapsed = f"{self.result.elapsed * 1000:.0f} ms"
        return (self.virtual, self.real, self.check, state, elapsed, self.result.reason)


async def run_plans(
    plans: Sequence[CheckPlan], checkers: Checkers, maintenance: MaintenanceDir | None,
    concurrency: int = CONCURRENCY,
) -> dict[str, ProbeResult]:  # fmt: skip
    """Each plan's one check, all concurrently; a check that overruns its bound is down."""
    gate = asyncio.Semaphore(concurrency)

    async def one(plan: CheckPlan) -> ProbeResult:
        prober = Prober(plan, checkers, maintenance)
        bound = bound_of(plan)
        async with gate:
            try:
                # A little beyond the check's own timeout: the check should time out first.
                async with asyncio.timeout(bound + 1.0):
                    return await prober()
            except TimeoutError:
                return timed_out(bound)

    results = await asyncio.gather(*(one(plan) for plan in plans))
    return {plan.key: result for plan, result in zip(plans, results, strict=True)}


async def probe(config: Config, concurrency: int = CONCURRENCY) -> list[ProbeLine]:
    plans = check_plans(config)
    directory = config.globals.maintenancedir
    maintenance = MaintenanceDir(directory, ReverseNameCache()) if directory else None
    async with Checkers() as checkers:
        results = await run_plans(list(plans.values()), checkers, maintenance, concurrency)
    lines = []
    for virtual in config.virtuals:
        for real in virtual.reals:
            result = results.get(real_id(virtual, real), NEVER_CHECKED)
            where = f"{bracketed(real.host)}:{real.port}"
            lines.append(ProbeLine(virtual_id(virtual), where, check_name(virtual), result))
    return lines


def render(lines: Sequence[ProbeLine]) -> str:
    """Aligned columns; the reason, last, is left as it is."""
    rows = [line.columns() for line in lines]
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    text = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True)]
        cells[4] = row[4].rjust(widths[4])  # elapsed: numbers align on the right
        text.append("  ".join([*cells, row[5]]).rstrip() + "\n")
    return "".join(text)


def main(args: Sequence[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int | None:
    """``args`` follow ``--probe``; None means a usage error."""
    if len(args) > 1 or any(arg.startswith("-") and arg != "-" for arg in args):
        return None
    config = load_reporting(args[0] if args else DEFAULT_CONFIG, err)
    if config is None:
        return EXIT_INVALID
    try:
        limits = fdlimit.prepare(CONCURRENCY)  # a low open files limit queues checks
    except fdlimit.FdLimitError as error:
        err.write(f"{error}\n")
        return EXIT_INVALID
    lines = loops.run(probe(config, limits.concurrency))
    out.write(render(lines))
    out.flush()
    return EXIT_ALL_UP if all(line.result.ok for line in lines) else EXIT_NOT_ALL_UP
