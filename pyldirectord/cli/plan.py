"""``pyldirectord --plan [CONFIG]``: what ``start`` would do to the kernel's table, done by nobody.

It reads the live IPVS table over netlink and prints the operations that would turn it into
the table ``start`` programs once every checked real has passed its check, one per line as
the ipvsadm command that does the same, followed by the line ``start`` would log:

    ipvsadm -a -t 192.0.2.80:80 -r 192.0.2.11:80 -m -w 1  # Added real server: ...

The decisions are the daemon's (``desired.desired_table``, ``reconcile.diff``,
``changes.describe``); only the health differs: every checked real is taken as up. Reals of
``checktype=off`` virtuals are never brought up, so they keep the start-up state (adopted
when the kernel already weighs them). Services the config does not own are never named.
Exit 0 after printing (even with nothing to do), 1 for a bad config or when IPVS cannot be
read (one line saying why).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TextIO

from pyldirectord.cli.checkconfig import DEFAULT_CONFIG, load_reporting
from pyldirectord.config.model import Config
from pyldirectord.core.changes import describe
from pyldirectord.core.desired import (
    HealthKey,
    desired_table,
    health_key,
    owned_services,
    seed_health,
)
from pyldirectord.core.health import RealHealth, State
from pyldirectord.core.ipvsops import IpvsError
from pyldirectord.core.reconcile import diff
from pyldirectord.core.table import IpvsTable
from pyldirectord.kernel.ipvs import Ipvs
from pyldirectord.runtime import loops

EXIT_OK = 0
EXIT_FAILED = 1
ASSUMED_UP = RealHealth(state=State.UP, reason="assumed up by --plan")

TableReader = Callable[[], Coroutine[Any, Any, IpvsTable]]


def planned_health(config: Config, actual: IpvsTable) -> dict[HealthKey, RealHealth]:
    """Start's seed, then every real that gets checked as if its check had passed."""
    health = seed_health(config, actual, {})
    for virtual in config.virtuals:
        if virtual.checktype == "off":
            continue
        for real in virtual.reals:
            health[health_key(virtual, real)] = ASSUMED_UP
    return health


def plan_lines(config: Config, actual: IpvsTable) -> list[str]:
    """``ipvsadm ARGS  # LOG LINE`` for each operation ``start`` would apply, in order."""
    health = planned_health(config, actual)
    ops = diff(actual, desired_table(config, health, actual), owned_services(config))
    changes = describe(ops, [config], health, 0.0)
    return [f"ipvsadm {op}  # {change.log}" for op, change in zip(ops, changes, strict=True)]


async def read_kernel_table() -> IpvsTable:
    async with Ipvs() as ipvs:
        return await ipvs.read_table()


def main(
    args: Sequence[str],
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    read_table: TableReader = read_kernel_table,
) -> int | None:
    """``args`` follow ``--plan``; None means a usage error."""
    if len(args) > 1 or any(arg.startswith("-") and arg != "-" for arg in args):
        return None
    config = load_reporting(args[0] if args else DEFAULT_CONFIG, err)
    if config is None:
        return EXIT_FAILED
    try:
        actual = loops.run(read_table())
    except IpvsError as error:
        err.write(f"pyldirectord --plan: {error}\n")
        return EXIT_FAILED
    lines = plan_lines(config, actual)
    if not lines:
        out.write(f"# nothing to do: the kernel's table already matches {config.path}\n")
    out.write("".join(line + "\n" for line in lines))
    return EXIT_OK
