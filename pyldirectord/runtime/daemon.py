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
from pyldirectord.core.ipvsops import IpvsUnavailable
from pyldirectord.kernel import kmod
from pyldirectord.kernel.ipvs import Ipvs
from pyldirectord.kernel.kmod import ModuleLoadError, ensure_ip_vs, load_schedulers
from pyldirectord.notify.log import Log, LogOpenError, make_sink
from pyldirectord.notify.mailer import Mailer
from pyldirectord.notify.observability import Observability
from pyldirectord.notify.sdnotify import CheckWatchdog, SystemdNotifier, mainpid, reloading
from pyldirectord.runtime import fdlimit, loops, preflight
from pyldirectord.runtime.asyncrunner import AsyncRunner
from pyldirectord.runtime.configload import load
from pyldirectord.runtime.context import DirectorContext
from pyldirectord.runtime.director import Director
from pyldirectord.runtime.watch import ConfigWatcher

CALLBACK_TIMEOUT = 60.0
CONCURRENCY = 1000  # checks in flight at most, if the open files limit allows (fdlimit)
IPVS_PROC = kmod.IPVS_PROC
MODPROBE = kmod.Modprobe()


def schedulers(config: Config) -> list[str]:
    return [virtual.scheduler for virtual in config.virtuals]


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
        self, context: DirectorContext, autoreload: Callable[[], None],
        systemd: SystemdNotifier | None = None, limits: fdlimit.Limits | None = None,
    ) -> None:  # fmt: skip
        self._context = context
        self._limits = limits or fdlimit.Limits(0, CONCURRENCY, short=False)  # 0: not set
        self._systemd = systemd
        self._watchdog: CheckWatchdog | None = None
        self._autoreload = autoreload
        self._log = as_log(context.log)
        self._backend = Ipvs()
        self._checkers = Checkers()
        self._mailer = Mailer(context.config.globals, self._log)
        self._watcher: ConfigWatcher | None = None
        self._director: Director | None = None
        self._observability: Observability | None = None

    async def start(self) -> None:
        await self._backend.open()
        await self._checkers.__aenter__()
        self._mailer.start()
        self._mailer.set_status("starting")
        config = self._context.config
        for warning in preflight.warnings(config, preflight.read_facts()):
            self._log.log(preflight.log_line(warning))
        if self._limits.short:
            self._log.log(fdlimit.short_warning(self._limits))
        self._observability = Observability(self._log)
        self._observability.configure(config)
        self._director = Director(
            config, self._backend, self._checkers, self._log,
            notify=self._mailer.notify, state_path=self._context.state_file,
            observer=self._observability.observers, concurrency=self._limits.concurrency,
        )  # fmt: skip
        await self._director.start()
        await self._observability.serve(config, self._director, self._mailer)
        self._mailer.set_status("running")
        self._notify_ready()
        # Watched always: the reference reports a changed file even without autoreload.
        self._watcher = ConfigWatcher(self._context.config_path, self._changed_on_disk)

    def _notify_ready(self) -> None:
        """systemd (Type=notify): ready now that the table is programmed; the watchdog pings
        only while checks keep ending (sdnotify.judge)."""
        if self._systemd is None or self._director is None:
            return
        status = "checks running"
        self._systemd.send("READY=1", f"STATUS={status}")
        if self._systemd.watchdog is not None:
            loop = asyncio.get_running_loop()
            self._watchdog = CheckWatchdog(self._systemd, self._director.scheduler, loop.time,
                                           status)  # fmt: skip
            self._watchdog.start()

    async def reload(self, new: Config) -> None:
        """The director swaps to ``new`` whole or keeps its config and table (and raises)."""
        assert self._director is not None
        old = self._director.config
        self.reopen_log(self._director.config, new)
        added = set(schedulers(new)) - set(schedulers(self._director.config))
        if added:  # as at start: a scheduler the kernel lacks is one clear line
            warning = await asyncio.to_thread(load_schedulers, MODPROBE, sorted(added))
            if warning is not None:
                self._log.log(warning)
        self._mailer.set_status("reloading")
        if self._systemd is not None:
            self._systemd.send(*reloading())
        self._mailer.reconfigure(new)
        assert self._observability is not None
        self._observability.configure(new)
        try:
            await self._director.reload(new)
        except BaseException:
            self._mailer.reconfigure(old)
            self.reopen_log(new, old)  # the running config's log again
            self._observability.configure(old)
            self._mailer.set_status("running")
            if self._systemd is not None:
                self._systemd.send("READY=1")
            raise
        await self._observability.serve(new, self._director, self._mailer)
        self._mailer.set_status("running")
        if self._systemd is not None:
            self._systemd.send("READY=1")

    def reopen_log(self, old: Config, new: Config) -> None:
        """The reference reads ``logfile`` again on reload: a changed one is used from now on.
        The new destination is test-opened first; if it fails, the old one stays, and says
        why (the reference would have refused the whole config)."""
        if new.globals.logfile == old.globals.logfile:
            return
        try:
            sink = make_sink(
                debug=self._context.debug, supervised=old.globals.supervised,
                logfile=new.globals.logfile, cfgname=self._context.cfgname,
            )  # fmt: skip
        except LogOpenError as error:
            self._log.log(f"{error}: still logging to {old.globals.logfile}")
            return
        self._log.use(sink)

    async def stop(self) -> None:
        if self._systemd is not None:
            self._systemd.send("STOPPING=1")
        if self._watchdog is not None:
            await self._watchdog.close()
        if self._watcher is not None:
            self._watcher.close()
        self._mailer.set_status("stopping")
        if self._observability is not None:
            await self._observability.close()
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
        return DirectorService(built_for, runner.request_autoreload, systemd, limits)

    # Loaded (as ipvsadm would) and checked here, before the daemon reports ready, so that
    # `start` prints why it cannot run and exits 1 instead of the daemon dying unseen.
    try:
        ensure_ip_vs(MODPROBE, IPVS_PROC)
    except ModuleLoadError as error:
        raise IpvsUnavailable(str(error)) from None
    warning = load_schedulers(MODPROBE, schedulers(context.config))
    if warning is not None:
        context.log(warning)
    loops.run(_read_the_table())  # e.g. no CAP_NET_ADMIN: one clear line, before ready
    limits = fdlimit.prepare(CONCURRENCY)  # FdLimitError: `start` says what to raise
    # Before the daemon reports ready, so before `start` (systemd's main process) exits: from
    # here systemd watches this process (NotifyAccess=all in contrib/systemd).
    systemd = SystemdNotifier.from_environ(os.environ)
    if systemd is not None:
        systemd.send(mainpid())

    runner = AsyncRunner(context, build, load)
    return runner


async def _read_the_table() -> None:
    """What the director does first: open the IPVS netlink socket and dump the table."""
    async with Ipvs() as ipvs:
        await ipvs.read_table()
