"""Runs an asyncio director under the lifecycle: signals in, start / reload / stop out.

The lifecycle's ``DaemonBody`` protocol is synchronous and its requests come from signal
handlers; an asyncio director (``director.Director``) wants ``await start()``,
``await reload(new_config)`` and ``await stop()``. This adapter owns the event loop, turns
the requests into loop wake-ups (``call_soon_threadsafe``, safe from a signal handler or a
watchdog thread), and does the reload's lifecycle part (spec 3.10): log the signal, parse the
whole config again, keep the running config on any error (reported through the log, as the
reference reports errors while running), then reload the ``execute=`` sub-instances.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Protocol

from pyldirectord.config.errors import ConfigError
from pyldirectord.config.model import Config
from pyldirectord.core.faults import FaultLog
from pyldirectord.runtime import loops
from pyldirectord.runtime.context import DirectorContext
from pyldirectord.runtime.subinstances import SubInstances

RELOAD_FAILED = "Reload failed, keeping the running configuration"


class AsyncDirector(Protocol):
    async def start(self) -> None: ...

    async def reload(self, new: Config) -> None:
        """Swap to ``new``, or raise having kept the running config and table."""

    async def stop(self) -> None: ...


BuildDirector = Callable[[DirectorContext], Awaitable[AsyncDirector]]


class AsyncRunner:
    """A ``context.DaemonBody`` around an ``AsyncDirector`` built inside the running loop."""

    def __init__(
        self,
        context: DirectorContext,
        build: BuildDirector,
        load_config: Callable[[str], Config],
    ) -> None:
        self.context = context
        self.config = context.config
        self._build = build
        self._load_config = load_config
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop_requested = False
        self._reload_requested = False
        self._on_signal = True  # the pending reload came from SIGHUP (else from autoreload)

    # --- called from signal handlers or other threads: note and wake, nothing else -----------

    def request_stop(self, signame: str) -> None:
        self._stop_requested = True
        self._poke()

    def request_reload(self) -> None:
        self._reload_requested = True
        self._on_signal = True
        self._poke()

    def request_autoreload(self) -> None:
        """A reload for a changed config file (autoreload=yes); already logged as such."""
        if not self._reload_requested:
            self._on_signal = False
        self._reload_requested = True
        self._poke()

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            loop.call_soon_threadsafe(wake.set)

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        loops.run(self._main())

    async def _main(self) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        director = await self._build(self.context)
        try:
            await director.start()
            await asyncio.to_thread(self._sub_instances().run, "start")
            while not self._stop_requested:
                if self._reload_requested:
                    self._reload_requested = False
                    await self._reload(director)
                    continue
                await self._wake.wait()
                self._wake.clear()
        except Exception as error:
            # A bug of the director's own: logged with its traceback, then the same cleanup
            # as a stop, and the daemon exits non-zero (lifecycle.serve), never silently.
            faults = FaultLog(self.context.log)
            faults.director_failed("the director", error, "it cleans up and exits")
            try:
                await director.stop()
            except Exception as cleanup_error:
                faults.director_failed("the director's cleanup", cleanup_error, "it exits")
            raise
        # The reference stops its execute= instances first, then cleans its own table.
        await asyncio.to_thread(self._sub_instances().run, "stop")
        await director.stop()

    def _sub_instances(self) -> SubInstances:
        previous = self.context.sub_instances
        return SubInstances(previous.binary, self.config.globals.execute, previous.log,
                            previous.timeout)  # fmt: skip

    async def _reload(self, director: AsyncDirector) -> None:
        log = self.context.log
        if self._on_signal:
            log("Reloading Linux Director Daemon config on signal")
        try:
            new = await asyncio.to_thread(self._load_config, self.context.config_path)
        except ConfigError as error:
            # The running config stays whole (quirk 7 fixed): nothing was swapped yet.
            log(error.reference_text(os.getpid()))
            return
        except Exception as error:  # e.g. a resolver or file error the loader did not word
            log(f"{RELOAD_FAILED}: {error!r}")
            return
        previous_execute = self.config.globals.execute
        try:
            await director.reload(new)
        except Exception as error:  # the director kept (or restored) its config and table
            log(f"{RELOAD_FAILED}: {error}")
            return
        self.config = new
        await asyncio.to_thread(self._sub_instances().reload_from, previous_execute)
