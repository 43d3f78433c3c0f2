"""Where the ldirectord command line gets its parts: config loader, log, director body.

The lead wires the real parser (parse + resolve), the log formatter and the director into
``production_hooks``. Tests replace the whole set with ``PYLDIRECTORD_HOOKS=<module>``, a module
whose ``hooks()`` returns a ``lifecycle.Hooks`` (their own signal-waiting director body and a
log they can read); together with ``PYLDIRECTORD_RUNDIR`` this lets the installed console
script run as a real daemon in a test without IPVS. Neither variable is meant for production.
"""

from __future__ import annotations

import importlib
import os
import shlex
import sys
from collections.abc import Mapping

from pyldirectord import lifecycle, pidfile
from pyldirectord.config.resolve import load
from pyldirectord.daemon import DaemonDirector
from pyldirectord.ipvs import Ipvs
from pyldirectord.log import make_log

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
    return lifecycle.Hooks(load_config=load, make_log=make_log, make_director=make_director)


def make_director(context: lifecycle.DirectorContext) -> lifecycle.Director:
    """The production director: the kernel's IPVS table over netlink."""
    return DaemonDirector(context, load, Ipvs)


def own_command(argv0: str) -> str:
    """Shell words that run this program again (execute= sub-instances); absolute, because
    the daemon has changed directory to / by the time it needs them."""
    if not argv0 or os.path.basename(argv0) == "__main__.py":
        return f"{shlex.quote(sys.executable)} -m pyldirectord"
    return shlex.quote(os.path.abspath(argv0))


def run_ldirectord(args: list[str], *, usage_text: str, version_text: str) -> int:
    environ = os.environ
    env = lifecycle.Environment(
        rundir=pidfile.default_rundir(environ),
        argv0=sys.argv[0],
        binary=own_command(sys.argv[0]),
        out=sys.stdout,
        err=sys.stderr,
        usage_text=usage_text,
        version_text=version_text,
    )
    try:
        return lifecycle.run(args, production_hooks(environ), env)
    except NotWiredError as error:
        sys.stderr.write(f"{error}\n")
        return lifecycle.EXIT_FAILURE
