"""Hooks the installed ``pyldirectord`` loads in these tests (``PYLDIRECTORD_HOOKS``).

Everything is production code except the kernel: the real parser, the reference's log (the
test configs set ``logfile`` to a file the test reads) and the real daemon body
(``daemon.DaemonDirector``: director, checkers, mailer, config watcher) on an in-memory IPVS
table (``tests/integration/director/memory_table.py``). A test thus sees SIGHUP, SIGTERM and
reloads through the daemon's own log lines and state file.
``$PYLDIRECTORD_TEST_DIRECTOR_FAILS`` makes building the director fail with that text.
"""

from __future__ import annotations

import os

from pyldirectord.config.resolve import load
from pyldirectord.lifecycle import Director, DirectorContext, Hooks
from pyldirectord.log import make_log


def make_director(context: DirectorContext) -> Director:
    failure = os.environ.get("PYLDIRECTORD_TEST_DIRECTOR_FAILS")
    if failure:
        raise RuntimeError(failure)
    # imported here, as production does: `status` and friends never load the daemon body
    from memory_table import MemoryTable

    from pyldirectord.daemon import DaemonDirector

    return DaemonDirector(context, load, MemoryTable)


def hooks() -> Hooks:
    return Hooks(load_config=load, make_log=make_log, make_director=make_director)
