"""external and external-perl checks running real scripts; no process may be left behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from leaks import no_leaks

from pyldirectord.checks import external
from pyldirectord.checks.base import CheckSpec, Target

TARGET = Target("127.0.0.2", 8080, virtual_ip="127.0.0.1", virtual_port=80, real_port=80)


def script(tmp_path: Path, body: str, name: str = "check.sh") -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def spec(command: str, timeout: float = 2.0) -> CheckSpec:
    return CheckSpec(
        checktype="external", checkcommand=command, checktimeout=timeout, kill_grace=0.3
    )


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry))
    return members


async def group_left_after(pgid: int, deadline: float = 5.0) -> list[int]:
    """Members of the group still alive after a while: SIGKILLed processes take a moment to exit.

    Without the kill, the scripts' ``sleep 30`` would still be there when this returns.
    """
    for _ in range(int(deadline / 0.05)):
        if not group_members(pgid):
            return []
        await asyncio.sleep(0.05)
    return group_members(pgid)


async def test_exit_0_is_up_and_gets_the_four_arguments(tmp_path: Path) -> None:
    out = tmp_path / "args"
    command = script(tmp_path, f'echo "$@" > {out}\nexit 0\n')
    async with no_leaks():
        result = await external.check(TARGET, spec(command))
    assert (result.ok, result.reason) == (True, "exit status 0")
    # the real's configured port, not the check port (as the reference)
    assert out.read_text() == "127.0.0.1 80 127.0.0.2 80\n"


async def test_fwmark_and_ipv6_arguments(tmp_path: Path) -> None:
    out = tmp_path / "args"
    command = script(tmp_path, f'echo "$@" > {out}\n')
    target = Target("2001:db8::2", 0, fwmark=7, real_port=0)
    result = await external.check(target, spec(command))
    assert result.ok
    assert out.read_text() == "7 0 [2001:db8::2] 0\n"


async def test_exit_1_is_down(tmp_path: Path) -> None:
    async with no_leaks():
        result = await external.check(TARGET, spec(script(tmp_path, "exit 1\n")))
    assert (result.ok, result.reason) == (False, "exit status 1")


async def test_killed_by_a_signal_is_down(tmp_path: Path) -> None:
    async with no_leaks():
        result = await external.check(TARGET, spec(script(tmp_path, "kill -KILL $$\n")))
    assert (result.ok, result.reason) == (False, "killed by signal SIGKILL")


async def test_hang_past_the_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # The script and its child both ignore SIGTERM: only the SIGKILL after the grace ends them.
    body = f"trap '' TERM\nsleep 30 &\necho $$ $! > {pids}\nwait\n"
    async with no_leaks():
        result = await external.check(TARGET, spec(script(tmp_path, body), timeout=0.5))
    assert (result.ok, result.reason) == (False, "timeout after 0.5s, process group killed")
    assert 0.5 <= result.elapsed < 6.0  # the script would sleep 30 s
    leader, _ = (int(pid) for pid in pids.read_text().split())
    assert await group_left_after(leader) == []


async def test_command_with_arguments_is_one_file_name(tmp_path: Path) -> None:
    command = script(tmp_path, "exit 0\n") + " --flag"
    result = await external.check(TARGET, spec(command))
    assert (result.ok, result.reason) == (False, f"cannot run {command}: No such file or directory")


async def test_not_executable(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    path.write_text("exit 0\n")
    result = await external.check(TARGET, spec(str(path)))
    assert (result.ok, result.reason) == (False, f"cannot run {path}: Permission denied")


async def test_external_perl_runs_perl_with_the_arguments(tmp_path: Path) -> None:
    good = tmp_path / "good.pl"
    good.write_text('exit($ARGV[2] eq "127.0.0.2" && $ARGV[1] == 80 ? 0 : 3);\n')
    bad = tmp_path / "bad.pl"
    bad.write_text('die "backend broken\\n";\n')
    async with no_leaks():
        up = await external.check_perl(TARGET, spec(str(good)))
        down = await external.check_perl(TARGET, spec(str(bad)))
    assert (up.ok, up.reason) == (True, "exit status 0")
    assert (down.ok, down.reason) == (False, "exit status 255")


async def test_cancelled_check_kills_its_process_group(tmp_path: Path) -> None:
    """The scheduler may cancel a check (shutdown, reload): its processes must not survive."""
    pids = tmp_path / "pids"
    body = f"trap '' TERM\nsleep 30 &\necho $$ $! > {pids}\nwait\n"
    async with no_leaks():
        task = asyncio.create_task(external.check(TARGET, spec(script(tmp_path, body), 10)))
        for _ in range(100):  # until the script has started its child (5 s at most)
            if pids.exists() and pids.read_text().strip():
                break
            await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    leader, _ = (int(pid) for pid in pids.read_text().split())
    assert await group_left_after(leader) == []


async def test_killed_by_a_realtime_signal_is_down_and_named(tmp_path: Path) -> None:
    """signal.Signals cannot name a realtime signal (ValueError): the reason names it."""
    number = signal.SIGRTMIN + 6
    async with no_leaks():
        result = await external.check(TARGET, spec(script(tmp_path, f"kill -{number} $$\n")))
    assert (result.ok, result.reason) == (False, "killed by signal SIGRTMIN+6")


async def test_background_child_of_a_finished_check_is_killed(tmp_path: Path) -> None:
    """A check that exits at once but leaves a child behind must not leak it per interval."""
    pids = tmp_path / "pids"
    body = f"sleep 30 &\necho $$ $! > {pids}\nexit 0\n"
    async with no_leaks():
        result = await external.check(TARGET, spec(script(tmp_path, body)))
    assert (result.ok, result.reason) == (True, "exit status 0")
    leader, _ = (int(pid) for pid in pids.read_text().split())
    assert await group_left_after(leader) == []  # without the kill: the sleep, for 30 s
