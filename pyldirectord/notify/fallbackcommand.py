"""``fallbackcommand start|stop VIP:PORT PROTO`` (spec 3.6): when it runs, and running it.

``FallbackMemory`` decides (pure): once per change of a virtual's "some real is up". The run
goes through ``/bin/sh -c`` as the reference effectively does (the value may carry arguments
and quotes), in its own process group so a timeout kills the command and all it started. Its
failure is logged, never fatal, and it never blocks the checks.

The reference runs the command synchronously, so its calls for one virtual never overlap and
the last one called is the last one to finish. Ours run in the background, so ``InOrder``
keeps that: one call at a time per virtual, in the order asked (a slow ``start`` followed by
a quick ``stop`` must leave the external system stopped, not started).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from pyldirectord.config.model import (
    Config,
    Virtual,
    effective_fallbackcommand,
    virtual_address,
    virtual_id,
)
from pyldirectord.core.desired import HealthKey, health_key
from pyldirectord.core.health import RealHealth
from pyldirectord.notify.log import Log

TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class FallbackRun:
    command: str
    action: str  # "start" when no real of the virtual is up, else "stop"
    virtual: Virtual


class FallbackMemory:
    """Each virtual's last fallbackcommand action, so a command runs once per change of its
    virtual's "any real up", not once per pass. No I/O: the caller runs what ``due`` returns."""

    def __init__(self) -> None:
        self._last: dict[str, str] = {}

    def due(self, config: Config, health: Mapping[HealthKey, RealHealth]) -> list[FallbackRun]:
        runs = []
        for virtual in config.virtuals:
            command = effective_fallbackcommand(virtual, config.globals)
            if command is None:
                continue
            up = any(health.get(health_key(virtual, r), RealHealth()).up for r in virtual.reals)
            action = "stop" if up else "start"
            vid = virtual_id(virtual)
            if self._last.get(vid) != action:
                self._last[vid] = action
                runs.append(FallbackRun(command, action, virtual))
        return runs


def command_line(command: str, action: str, virtual: Virtual) -> str:
    # The reference passes ":0" for a fwmark virtual (spec 8 #13); the mark is more useful.
    where = virtual_address(virtual)
    return f"{command} {action} {where} {virtual.protocol}"


async def run_fallbackcommand(
    command: str, action: str, virtual: Virtual, log: Log, timeout: float = TIMEOUT
) -> None:
    line = command_line(command, action, virtual)
    process = await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", line, stdin=asyncio.subprocess.DEVNULL, start_new_session=True
    )
    try:
        async with asyncio.timeout(timeout):
            status = await process.wait()
    except (TimeoutError, asyncio.CancelledError) as stopped:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        if isinstance(stopped, asyncio.CancelledError):
            raise
        log.log(f"fallbackcommand timed out after {timeout:g}s, killed: {line}")
        return
    if status != 0:
        log.log(f"system({line}) failed: exit status {status}")


class InOrder:
    """Runs each key's work one at a time, in the order submitted."""

    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Future[None]] = {}

    async def run(self, key: str, work: Callable[[], Awaitable[None]]) -> None:
        """Wait for the key's earlier work (however it ended), then do this one."""
        previous = self._tails.get(key)
        done = asyncio.get_running_loop().create_future()
        self._tails[key] = done
        try:
            if previous is not None:
                await asyncio.wait([previous])
            await work()
        finally:
            done.set_result(None)
            if self._tails.get(key) is done:
                del self._tails[key]
