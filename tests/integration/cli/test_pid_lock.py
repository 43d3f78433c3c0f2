"""The pid file lock against other real processes, and the bounded wait of `stop`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lifecycle_hooks import load_config

from pyldirectord.cli import actions, lifecycle, pidfile
from pyldirectord.config.model import Config
from pyldirectord.runtime.context import DaemonBody, DirectorContext

HOLDER = """
import fcntl, os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a daemon stuck in its cleanup
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.lockf(fd, fcntl.LOCK_EX)
os.write(fd, sys.argv[2].encode())
print("locked", flush=True)
time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    path = tmp_path / "ldirectord.x.cf.pid"
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), "PID\n"],
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert process.stdout is not None and process.stdout.readline() == "locked\n"
    yield path, process
    process.kill()
    process.wait()


def test_probe_sees_another_process_lock(holder: tuple[Path, subprocess.Popen[str]]) -> None:
    path, process = holder
    path.write_text(f"{process.pid}\n")  # same inode: the lock stays
    assert pidfile.probe(str(path)) == pidfile.Running(process.pid)
    lock = pidfile.HeldLock.open(str(path))
    assert not lock.acquire(timeout=0.2)
    lock.release(unlink=True)
    assert path.exists()  # never unlinks a file whose lock it does not hold
    process.kill()
    process.wait()
    assert pidfile.probe(str(path)) == pidfile.Stale(str(process.pid))


def test_locked_but_pid_not_written_yet(holder: tuple[Path, subprocess.Popen[str]]) -> None:
    path, _ = holder
    os.truncate(path, 0)
    assert pidfile.probe(str(path), settle=0.2) == pidfile.Running(None)


def test_lock_follows_the_path_not_an_unlinked_inode(tmp_path: Path) -> None:
    """A dying daemon unlinks its pid file between our open and our lock: lock the new file."""
    path = tmp_path / "ldirectord.y.pid"
    path.write_text("1\n")
    lock = pidfile.HeldLock.open(str(path))
    path.unlink()
    assert lock.acquire(timeout=0.5)
    assert os.fstat(lock.fd).st_ino == path.stat().st_ino
    lock.write_pid(77)
    assert path.read_text() == "77\n"
    lock.release(unlink=True)
    assert not path.exists()


def test_stop_gives_up_after_its_bound(
    tmp_path: Path, holder: tuple[Path, subprocess.Popen[str]]
) -> None:
    path, process = holder
    path.write_text(f"{process.pid}\n")
    config = tmp_path / "x.cf"
    config.write_text(f'logfile="{tmp_path}/log"\n')
    lines: list[str] = []

    def no_director(_context: DirectorContext) -> DaemonBody:
        raise AssertionError("stop never starts a director")

    def loader(config_path: str) -> Config:
        return load_config(config_path)

    hooks = lifecycle.Hooks(loader, lambda _setup: lines.append, no_director)
    out, err = io.StringIO(), io.StringIO()
    env = lifecycle.Environment(rundir=str(tmp_path), argv0="pyldirectord", binary="false",
                                self_command=("false",),
                                out=out, err=err, usage_text="Usage:\n", version_text="v\n",
                                stop_timeout=0.5)  # fmt: skip
    assert actions.run([str(config), "stop"], hooks, env) == 1
    message = f"ldirectord for {config} (pid {process.pid}) did not stop within 0.5 s"
    assert err.getvalue() == message + "\n"
    assert lines[-1] == f"Exiting with exit_status 1: {message}"
    assert process.poll() is None and path.exists()


def test_taking_the_lock_clears_a_stale_pid_at_once(tmp_path: Path) -> None:
    """Between lock and pid write, a `stop` must not read (and signal) the stale pid."""
    path = tmp_path / "ldirectord.z.pid"
    path.write_text("999999\n")
    lock = pidfile.HeldLock.open(str(path))
    assert path.read_text() == "999999\n"  # opening never truncates: it may be a live daemon's
    assert lock.acquire(timeout=0.5)
    assert path.read_text() == ""
    lock.release(unlink=True)
