"""The production daemon body: the director with its kernel socket, checkers, mailer and
config watcher, run by ``asyncrunner.AsyncRunner`` under the ldirectord lifecycle.

``AsyncRunner`` owns the loop, the signals and the reload's parse-or-keep step; this module
owns what lives inside the loop and the order in which it starts and stops.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable

from pyldirectord.checks.registry import Checkers
from pyldirectord.config.model import Config
from pyldirectord.config.resolve import load
from pyldirectord.core.ipvsops import NOT_LOADED, IpvsUnavailable
from pyldirectord.kernel.ipvs import Ipvs
from pyldirectord.notify.log import Log
from pyldirectord.notify.mailer import Mailer
from pyldirectord.runtime import fdlimit
from pyldirectord.runtime.asyncrunner import AsyncRunner
from pyldirectord.runtime.context import DirectorContext
from pyldirectord.runtime.director import Director
from pyldirectord.runtime.watch import ConfigWatcher

CALLBACK_TIMEOUT = 60.0
CONCURRENCY = 1000  # checks in flight at most, if the open files limit allows (fdlimit)
IPVS_PROC = "/proc/net/ip_vs"  # present exactly when the ip_vs module is loaded


class FunctionSink:
    """Lets a plain ``log(msg)`` function stand behind a ``Log`` object."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    def write(self, message: str, now: float) -> None:
        self._write(message)

    def close(self) -> None:
        pass


def as_log(log: Callable[[str], None]) -> Log:
    # Production's ``log.make_log`` hands out a Log; a test's hooks may give a plain function.
    return log if isinstance(log, Log) else Log(FunctionSink(log))


class DirectorService:
    """``asyncrunner.AsyncDirector``: start, reload and stop the whole daemon body."""

    def __init__(
        self, context: DirectorContext, autoreload: Callable[[], None], limits: fdlimit.Limits
    ) -> None:
        self._context = context
        self._limits = limits
        self._autoreload = autoreload
        self._log = as_log(context.log)
        self._backend = Ipvs()
        self._checkers = Checkers()
        self._mailer = Mailer(context.config.globals, self._log)
        self._watcher: ConfigWatcher | None = None
        self._director: Director | None = None

    async def start(self) -> None:
        await self._backend.open()
        await self._checkers.__aenter__()
        self._mailer.start()
        self._mailer.set_status("starting")
        if self._limits.short:
            self._log.log(fdlimit.short_warning(self._limits))
        self._director = Director(
            self._context.config, self._backend, self._checkers, self._log,
            notify=self._mailer.notify, state_path=self._context.state_file,
            concurrency=self._limits.concurrency,
        )  # fmt: skip
        await self._director.start()
        self._mailer.set_status("running")
        # Watched always: the reference reports a changed file even without autoreload.
        self._watcher = ConfigWatcher(self._context.config_path, self._changed_on_disk)

    async def reload(self, new: Config) -> None:
        assert self._director is not None
        self._mailer.set_status("reloading")
        self._mailer.reconfigure(new)
        await self._director.reload(new)
        self._mailer.set_status("running")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
        self._mailer.set_status("stopping")
        if self._director is not None:
            await self._director.stop()
        await self._mailer.close()
        await self._checkers.close()
        self._backend.close()

    def _changed_on_disk(self) -> None:
        assert self._director is not None
        config = self._director.config
        self._log.log(f"Configuration file '{self._context.config_path}' has changed on disk")
        if config.globals.autoreload:
            self._log.log(" - reread new configuration")
            self._autoreload()
        else:
            self._log.log(" - ignore new configuration")
        if config.globals.callback:
            asyncio.get_running_loop().create_task(self._run_callback(config.globals.callback))

    async def _run_callback(self, callback: str) -> None:
        program = callback.split()[0] if callback.split() else ""
        if not os.access(program, os.X_OK):
            return  # the reference runs the callback only when it is executable
        line = f"{callback} {self._context.config_path}"

        def run() -> None:
            try:
                subprocess.run(["/bin/sh", "-c", line], timeout=CALLBACK_TIMEOUT, check=False)
            except subprocess.TimeoutExpired:
                self._log.log(f"callback timed out after {CALLBACK_TIMEOUT:g}s: {line}")
            except OSError as error:  # a task nobody awaits: say it here, or it is lost
                self._log.log(f"callback failed: {line}: {error}")

        await asyncio.to_thread(run)


def make_director(context: DirectorContext) -> AsyncRunner:
    """``lifecycle.Hooks.make_director`` for production: the kernel's table over netlink."""

    async def build(built_for: DirectorContext) -> DirectorService:
        return DirectorService(built_for, runner.request_autoreload, limits)

    # Checked here, before the daemon reports ready, so that `start` prints it and exits 1
    # instead of the daemon dying unseen after a successful-looking start.
    if not os.path.exists(IPVS_PROC):
        raise IpvsUnavailable(NOT_LOADED)
    limits = fdlimit.prepare(CONCURRENCY)  # FdLimitError: `start` says what to raise

    runner = AsyncRunner(context, build, load)
    return runner
