"""The daemon body the lifecycle runs: one asyncio loop holding the director, the kernel
socket, the checkers, the mailer and the config watcher, until a stop is requested.

Signals arrive through ``request_reload``/``request_stop`` (called from Python signal
handlers) and become events in the loop. A reload parses and resolves the whole file first,
off the loop (it resolves names); a file with an error is logged and the running config stays
untouched, table included.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable

from pyldirectord.alerts import Mailer
from pyldirectord.checks.registry import Checkers
from pyldirectord.config.errors import ConfigError
from pyldirectord.config.model import Config, DaemonStatus
from pyldirectord.director import Director, TableBackend
from pyldirectord.lifecycle import DirectorContext
from pyldirectord.log import Log
from pyldirectord.watch import ConfigWatcher

CALLBACK_TIMEOUT = 60.0

LoadConfig = Callable[[str], Config]


class FunctionSink:
    """Lets a plain ``log(msg)`` function stand behind a ``Log`` object."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    def write(self, message: str, now: float) -> None:
        self._write(message)

    def close(self) -> None:
        pass


class DaemonDirector:
    """``lifecycle.Director``: ``run`` blocks until stopped and the table is cleaned up."""

    def __init__(
        self,
        context: DirectorContext,
        load_config: LoadConfig,
        open_backend: Callable[[], TableBackend],
    ) -> None:
        self._context = context
        self._load_config = load_config
        self._open_backend = open_backend
        log = context.log
        self._log = log if isinstance(log, Log) else Log(FunctionSink(log))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop_requested = False
        self._reload_requested = False
        self._changed_on_disk = False
        self._hup_received = False

    # Called from signal handlers: note the request, wake the loop, nothing more.
    def request_reload(self) -> None:
        self._hup_received = True
        self._poke()

    def request_stop(self, signame: str) -> None:
        self._stop_requested = True
        self._poke()

    def _poke(self) -> None:
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self._hup_received or self._stop_requested:
            self._wake.set()  # a signal that came before the loop existed
        config = self._context.config
        mailer = Mailer(config.globals, self._log)
        mailer.start()
        backend = self._open_backend()
        opened = getattr(backend, "open", None)
        if opened is not None:
            await opened()
        try:
            async with Checkers() as checkers:
                director = Director(
                    config, backend, checkers, self._log,
                    notify=mailer.notify, state_path=self._context.state_file,
                )  # fmt: skip
                await self._serve(director, mailer)
        finally:
            closing = getattr(backend, "close", None)
            if closing is not None:
                closing()
            await mailer.close()

    async def _serve(self, director: Director, mailer: Mailer) -> None:
        assert self._wake is not None
        watcher = ConfigWatcher(self._context.config_path, self._on_disk_change)
        try:
            self._status(mailer, "starting")
            await director.start()
            await self._system_in_thread(lambda: self._context.sub_instances.run("start"))
            self._status(mailer, "running")
            while not self._stop_requested:
                await self._wake.wait()
                self._wake.clear()
                if self._stop_requested:
                    break
                await self._handle_requests(director, mailer)
        finally:
            watcher.close()
            self._status(mailer, "stopping")
            await director.stop()

    def _status(self, mailer: Mailer, status: DaemonStatus) -> None:
        mailer.set_status(status)

    def _on_disk_change(self) -> None:
        self._changed_on_disk = True
        self._poke()

    async def _handle_requests(self, director: Director, mailer: Mailer) -> None:
        if self._hup_received:
            # logged here, not in the signal handler: a handler may interrupt a log write
            self._hup_received = False
            self._log.log("Reloading Linux Director Daemon config on signal")
            self._reload_requested = True
        if self._changed_on_disk:
            self._changed_on_disk = False
            path = self._context.config_path
            self._log.log(f"Configuration file '{path}' has changed on disk")
            if director.config.globals.autoreload:
                self._log.log(" - reread new configuration")
                self._reload_requested = True
            else:
                self._log.log(" - ignore new configuration")
            await self._run_callback(director.config)
        if self._reload_requested:
            self._reload_requested = False
            await self._reload(director, mailer)

    async def _reload(self, director: Director, mailer: Mailer) -> None:
        path = self._context.config_path
        try:
            new = await asyncio.to_thread(self._load_config, path)
        except ConfigError as error:
            # The reference logs a reload error; the running config and table stay as they are.
            self._log.log(error.reference_text(os.getpid()))
            return
        self._status(mailer, "reloading")
        mailer.reconfigure(new)
        await director.reload(new)
        self._status(mailer, "running")
        instances = self._context.sub_instances
        await self._system_in_thread(lambda: instances.reload_to(new.globals.execute))

    async def _run_callback(self, config: Config) -> None:
        callback = config.globals.callback
        if not callback or not os.access(callback.split()[0], os.X_OK):
            return
        line = f"{callback} {self._context.config_path}"

        def run() -> None:
            try:
                subprocess.run(["/bin/sh", "-c", line], timeout=CALLBACK_TIMEOUT, check=False)
            except subprocess.TimeoutExpired:
                self._log.log(f"callback timed out after {CALLBACK_TIMEOUT:g}s: {line}")

        await asyncio.to_thread(run)

    async def _system_in_thread(self, work: Callable[[], None]) -> None:
        # execute= sub-instances and callbacks run ldirectord-style shell commands; a thread
        # keeps the checks running meanwhile.
        await asyncio.to_thread(work)
