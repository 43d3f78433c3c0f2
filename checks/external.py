"""checktype=external and external-perl: run the operator's command, exit 0 = up (spec 4.2).

The command is executed directly, never through a shell (a checkcommand with spaces is one file
name, as in the reference). It runs in its own session so that on timeout the whole process
group is killed: SIGTERM, then SIGKILL after a grace, and nothing is left behind. When the
command exits in time its group is killed as well: a check that leaves a background child
behind would otherwise leak one process per interval. Death by a signal is down (the
reference read it as up); realtime signals, which have no name, are named SIGRTMIN+N.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from pyldirectord.checks.base import (
    CheckResult,
    CheckSpec,
    Outcome,
    Target,
    bracket,
    os_error_reason,
)


def external_args(target: Target) -> list[str]:
    """``<vip or fwmark> <vport (0 for fwm)> <rip> <rport>``, IPv6 bracketed (spec 4.2)."""
    if target.fwmark is not None:
        virtual, virtual_port = str(target.fwmark), "0"
    else:
        virtual, virtual_port = bracket(target.virtual_ip), str(target.virtual_port)
    return [virtual, virtual_port, bracket(target.ip), str(target.real_port)]


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    argv = [spec.checkcommand, *external_args(target)]
    return await _timed(argv, spec)


async def check_perl(target: Target, spec: CheckSpec) -> CheckResult:
    """external-perl: ``perl SCRIPT ARGS`` in a subprocess, read afresh at every check."""
    argv = ["perl", spec.checkcommand, *external_args(target)]
    return await _timed(argv, spec)


async def _timed(argv: list[str], spec: CheckSpec) -> CheckResult:
    loop = asyncio.get_running_loop()
    start = loop.time()
    ok, reason = await run_command(argv, spec.checktimeout, spec.kill_grace)
    return CheckResult(ok, reason, loop.time() - start)


async def run_command(argv: list[str], timeout: float, grace: float) -> Outcome:
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # its own process group, killed as one on timeout
        )
    except OSError as err:
        return False, f"cannot run {argv[0]}: {os_error_reason(err)}"
    try:
        async with asyncio.timeout(timeout):
            code = await process.wait()
    except TimeoutError:
        await _terminate_group(process, grace)
        return False, f"timeout after {timeout:g}s, process group killed"
    finally:
        # Whether it exited, timed out or we were cancelled: nothing of the check may stay
        # running. The group's id cannot be reused while any member of it is alive.
        _signal_group(process.pid, signal.SIGKILL)
    return exit_outcome(code)


def exit_outcome(code: int) -> Outcome:
    if code == 0:
        return True, "exit status 0"
    if code < 0:
        return False, f"killed by signal {signal_name(-code)}"
    return False, f"exit status {code}"


def signal_name(number: int) -> str:
    """``SIGTERM``; a realtime signal, which ``signal.Signals`` cannot name, ``SIGRTMIN+6``."""
    try:
        return signal.Signals(number).name
    except ValueError:
        if signal.SIGRTMIN <= number <= signal.SIGRTMAX:
            return f"SIGRTMIN+{number - signal.SIGRTMIN}"
        return f"signal {number}"


async def _terminate_group(process: asyncio.subprocess.Process, grace: float) -> None:
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(grace):
            await process.wait()
    # Even when the leader obeyed, its children may not have: KILL whatever is left.
    _signal_group(process.pid, signal.SIGKILL)
    await process.wait()


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
