"""Run the Perl ldirectord and pyldirectord on one config in the sandbox kernel; read the table.

The reference runs in the foreground (``ldirectord -d CONFIG start``, its debug lines in a
file). It is done with its first check pass when it has printed one ``Checking`` line per
distinct real and then sits in its ``sleep``: no child process (every ipvsadm it runs is a
child) and no CPU time spent over a short window. Polling ``ipvsadm`` instead would cost
a process per poll on a sandbox where a process costs a tenth of a second, and slow down
what it watches. pyldirectord runs in the foreground too (``-d CONFIG start``) and is done
when it has written its state file, which it does after its first apply.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from ipvsadm_text import read_with_ipvsadm

from pyldirectord.cli import main
from pyldirectord.config.model import real_id
from pyldirectord.config.resolve import load
from pyldirectord.core.table import IpvsTable, dest_sort_key, service_sort_key

REFERENCE = "/usr/sbin/ldirectord"
DEADLINE = 60.0
LOG_NAME = "pyldirectord.log"
QUIET = 0.4  # seconds with no child and no CPU time: the reference is in its sleep
CHECKTYPE = re.compile(r"^\s+checktype\s*=", re.M)
LOGFILE = re.compile(r"^logfile\s*=.*$", re.M)
VIRTUAL = re.compile(r"^(virtual6?\s*=.*)$", re.M)


def rewritten(text: str, checktype: str, logfile: Path) -> str:
    """The config with every virtual's checktype set and the log in the test's directory;
    every other line as it was."""
    lines = [line for line in text.splitlines() if not CHECKTYPE.match(line)]
    lines = [line for line in lines if not LOGFILE.match(line)]
    body = VIRTUAL.sub(lambda m: f"{m.group(1)}\n    checktype={checktype}", "\n".join(lines))
    return f'logfile="{logfile}"\n{body}\n'


def distinct_reals(config: Path) -> int:
    """How many ``Checking`` lines one pass of the reference prints (one per real id)."""
    loaded = load(str(config))
    return len({real_id(v, r) for v in loaded.virtuals for r in v.reals})


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == str(pid) and fields[0] != "Z":
                found.append(int(entry))
    return found


def _cpu(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _wait(what: str, done: Callable[[], bool], log: Path) -> None:
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > DEADLINE:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"not within {DEADLINE:.0f}s: {what}\n{tail}")
        time.sleep(0.1)


def reference_table(config: Path, workdir: Path) -> tuple[IpvsTable, float]:
    """The table the Perl ldirectord leaves after start and its first check pass."""
    err = workdir / "reference.err"
    expected = distinct_reals(config)
    started = time.monotonic()
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(workdir), "LANG": "C",
           "PERLIO": "perlio"}  # fmt: skip  # PERLIO set: it re-execs itself otherwise
    with err.open("w") as stderr:
        process = subprocess.Popen(
            [REFERENCE, "-d", str(config), "start"], cwd=workdir, env=env,
            stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
        )  # fmt: skip
    try:
        _wait("the reference's first pass", lambda: _checked(err) >= expected, err)
        _wait("the reference's sleep", lambda: _asleep(process), err)
        table = read_with_ipvsadm(cross_check=False)
    finally:
        # Killed, not stopped: its clean stop would cost a process per virtual, and the
        # table is flushed before the next run anyway.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return table, time.monotonic() - started


def _checked(err: Path) -> int:
    return sum(1 for line in err.read_text(errors="replace").splitlines()
               if line.startswith("DEBUG2: Checking "))  # fmt: skip


def _asleep(process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, f"the reference exited with {process.returncode}"
    before = _cpu(process.pid)
    if _children(process.pid):
        return False
    time.sleep(QUIET)
    return not _children(process.pid) and _cpu(process.pid) == before


def ours_table(config: Path, workdir: Path) -> tuple[IpvsTable, float]:
    """The table pyldirectord programs at start (its first apply), run in the foreground
    like the reference, through its command line (``-d CONFIG start``) in a child forked
    from this process: the same entry point as the installed script, without the two
    seconds the sandbox takes to import it again."""
    state = Path("/run") / f"pyldirectord.{config.name}.json"
    log = workdir / "pyldirectord.err"
    started = time.monotonic()
    pid = _fork_cli(["-d", str(config), "start"], workdir, log)
    try:
        _wait("pyldirectord's first apply", lambda: _alive(pid) and state.exists(), log)
        table = read_with_ipvsadm(cross_check=False)
    finally:
        os.kill(pid, signal.SIGTERM)
        _reap(pid, log)
    assert not state.exists(), "the state file outlived the daemon"
    return table, time.monotonic() - started


def _fork_cli(args: list[str], workdir: Path, log: Path) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        sys.stdout = sys.stderr = open(out, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.chdir(workdir)
        code = main.main(args)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def _alive(pid: int) -> bool:
    done, status = os.waitpid(pid, os.WNOHANG)
    assert done == 0, f"pyldirectord exited with status {status}"
    return True


def _reap(pid: int, log: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0, log.read_text(errors="replace")
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"pyldirectord did not stop within {DEADLINE:.0f}s")


def ipvsadm_lines(table: IpvsTable) -> list[str]:
    """The table as sorted ipvsadm commands that would build it: readable in a diff."""
    lines = []
    for key in sorted(table.services, key=service_sort_key):
        lines.append(f"-A {table.services[key].ipvsadm_args()}")
        reals = table.reals(key)
        lines += [f"-a {key} {reals[dest].ipvsadm_args()}"
                  for dest in sorted(reals, key=dest_sort_key)]  # fmt: skip
    return lines
