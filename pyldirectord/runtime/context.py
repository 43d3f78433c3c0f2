"""What the command line hands the daemon body, and what it expects back.

The lifecycle (``cli/lifecycle.py``) owns the pid file, the signals and the exit codes; the
body it runs is injected (``Hooks.make_director``), so this contract sits below both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pyldirectord.config.model import Config
from pyldirectord.runtime.subinstances import SubInstances

LogFn = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class DirectorContext:
    config: Config
    config_path: str  # CONFIG as resolved, used verbatim in messages
    cfgname: str
    debug: bool
    foreground: bool
    log: LogFn
    state_file: str  # where the director writes statefile.DirectorState after each pass
    # The body runs them (docs/compatibility.md, execute=): .run("start") after its start-up,
    # a new SubInstances(...).reload_from(old names) on reload, .run("stop") before its cleanup.
    sub_instances: SubInstances


class DaemonBody(Protocol):
    """What the lifecycle runs. ``run`` blocks until a stop was requested and the table is
    cleaned up.

    ``request_reload`` and ``request_stop`` are called from Python signal handlers (main thread,
    between bytecodes, possibly in the middle of a log call): they must only note the request
    and wake ``run`` (for asyncio, ``loop.call_soon_threadsafe``), never log or take a lock.
    The body logs ``Reloading Linux Director Daemon config on signal`` when it processes a
    reload; the lifecycle logs ``Linux Director Daemon terminated on signal: <SIG>`` after
    ``run`` returns.
    """

    def run(self) -> None: ...

    def request_reload(self) -> None: ...

    def request_stop(self, signame: str) -> None: ...
