"""Where the ldirectord command line gets its parts: config loader, log, daemon body.

``production_hooks`` wires the real parser (read, parse, resolve), the reference's log
(``log.make_log``) and the daemon (``daemon.make_director``, imported only by the actions that
start one).

Tests replace the whole set with ``PYLDIRECTORD_HOOKS=<module>``, a module whose ``hooks()``
returns a ``lifecycle.Hooks`` (their own signal-waiting director body and a log they can
read); together with ``PYLDIRECTORD_RUNDIR`` this lets the installed console script run as a
real daemon in a test without IPVS. Neither variable is meant for production.
"""

from __future__ import annotations

import importlib
import os
import shlex
import sys
from collections.abc import Mapping

from pyldirectord.cli import actions, lifecycle, pidfile
from pyldirectord.config import resolve
from pyldirectord.notify.log import make_log
from pyldirectord.runtime.context import DaemonBody, DirectorContext

HOOKS_ENV = "PYLDIRECTORD_HOOKS"


class NotWiredError(RuntimeError):
    """This build lacks a part the action needs (reported, exit 1)."""


def production_hooks(environ: Mapping[str, str]) -> lifecycle.Hooks:
    override = environ.get(HOOKS_ENV)
    if override:
        hooks = importlib.import_module(override).hooks()
        if not isinstance(hooks, lifecycle.Hooks):
            raise NotWiredError(f"{override}.hooks() did not return lifecycle.Hooks")
        return hooks
    return lifecycle.Hooks(
        load_config=resolve.load,
        make_log=make_log,
        make_director=_daemon_on_demand,
    )


def _daemon_on_demand(context: DirectorContext) -> DaemonBody:
    # `status`, `stop` and `reload` (the OCF agent's monitor every 20 s) never need the
    # checkers, aiohttp or pyroute2; importing them costs ~0.5 s per invocation.
    from pyldirectord.runtime import daemon

    return daemon.make_director(context)


def self_command(argv0: str) -> tuple[str, ...]:
    """argv that runs this program again, as it was invoked (``restart`` keeps the binary's
    name as typed, so the OCF agent's ``pgrep -f "BINARY CONFIG start"`` still matches)."""
    if not argv0 or os.path.basename(argv0) == "__main__.py":
        return (sys.executable, "-m", "pyldirectord")
    return (argv0,)


def own_command(argv0: str) -> str:
    """Shell words that run this program again (execute= sub-instances); absolute, because
    the daemon has changed directory to / by the time it needs them."""
    command = self_command(argv0)
    return shlex.join(command if len(command) > 1 else (os.path.abspath(argv0),))


def run_ldirectord(args: list[str], *, usage_text: str, version_text: str) -> int:
    environ = os.environ
    env = lifecycle.Environment(
        rundir=pidfile.default_rundir(environ),
        argv0=sys.argv[0],
        binary=own_command(sys.argv[0]),
        self_command=self_command(sys.argv[0]),
        out=sys.stdout,
        err=sys.stderr,
        usage_text=usage_text,
        version_text=version_text,
    )
    try:
        return actions.run(args, production_hooks(environ), env)
    except NotWiredError as error:
        sys.stderr.write(f"{error}\n")
        return lifecycle.EXIT_FAILURE
