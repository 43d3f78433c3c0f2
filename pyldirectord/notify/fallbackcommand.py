"""Runs ``fallbackcommand start|stop VIP:PORT PROTO`` (spec 3.6) with a bound (edge).

Through ``/bin/sh -c`` as the reference effectively does (the value may carry arguments and
quotes), in its own process group so a timeout kills the command and all it started. Its
failure is logged, never fatal, and it never blocks the checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from pyldirectord.config.model import Virtual, virtual_address
from pyldirectord.notify.log import Log

TIMEOUT = 60.0


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
