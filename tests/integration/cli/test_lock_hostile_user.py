"""Another local user cannot keep a director from starting (issue 12).

A process running as ``nobody`` tries what any user on the host can: open the instance
lock file, and hold a read lock on a stale (world-readable) pid file. The installed console
script then starts the daemon as root, as an operator would.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_rig import Rig, make_rig

NOBODY = 65534


@pytest.fixture
def rig() -> Iterator[Rig]:
    # Other users may look into the run directory, as into /run (pytest's tmp_path is not
    # reachable for them).
    root = Path(tempfile.mkdtemp(prefix="pyld-lock-"))
    root.chmod(0o755)
    rig = make_rig(root)
    rig.rundir.chmod(0o755)
    yield rig
    rig.cleanup()
    shutil.rmtree(root)


@dataclass
class Nobody:
    """A forked child that became ``nobody`` and tried to read-lock a file."""

    pid: int
    outcome: str  # "locked" (it holds the read lock until killed) or "denied"

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def as_nobody(path: Path) -> Nobody:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                fd = os.open(path, os.O_RDONLY)
            except PermissionError:
                os.write(write_end, b"denied")
                os._exit(0)
            fcntl.lockf(fd, fcntl.LOCK_SH)
            os.write(write_end, b"locked")
            os.close(write_end)
            signal.pause()
        finally:
            os._exit(1)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as stream:
        outcome = stream.read(6).decode()
    return Nobody(pid, outcome)


def test_the_instance_lock_is_not_openable_by_other_users(rig: Rig) -> None:
    config = rig.config("lvs.cf")
    assert rig.run(config, "start").returncode == 0
    lock = rig.rundir / "pyldirectord.lvs.cf.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert as_nobody(lock).outcome == "denied"
    assert rig.run(config, "stop").returncode == 0


def test_a_read_lock_on_a_stale_pid_file_does_not_stop_a_start(rig: Rig) -> None:
    config = rig.config("lvs.cf")
    stale = rig.pid_file("lvs.cf")
    stale.write_text("999999\n")
    stale.chmod(0o644)  # as the reference (and every daemon) leaves it
    locker = as_nobody(stale)
    try:
        assert locker.outcome == "locked"
        assert rig.run(config, "start").returncode == 0
        pid = rig.daemon_pid("lvs.cf")
        status = rig.run(config, "status")
        assert status.returncode == 0
        assert status.stderr == f"ldirectord for {config} is running with pid: {pid}\n"
        assert stat.S_IMODE(stale.stat().st_mode) == 0o644
        assert rig.run(config, "stop").returncode == 0
        assert not os.path.exists(stale)
    finally:
        locker.kill()
