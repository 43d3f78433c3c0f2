"""Pid file and instance lock: an ``fcntl`` lock held for the daemon's whole life.

The lock is the truth (decisions.md): a pid file nobody holds a lock on is stale, whatever
process happens to carry that pid now. POSIX record locks (``lockf``) belong to a process and
vanish with it, even on SIGKILL, and are not inherited by forked children, so a check or
callback the daemon spawns can never keep a dead daemon "running".
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

RUNDIR_ENV = "PYLDIRECTORD_RUNDIR"  # tests only: where pid, lock and state files live


def default_rundir(environ: Mapping[str, str]) -> str:
    override = environ.get(RUNDIR_ENV)
    if override:
        return override
    return "/run" if os.path.isdir("/run") else "/var/run"


def pid_file_path(rundir: str, cfgname: str) -> str:
    """``ldirectord.<CFGNAME>.pid``: the reference's name, which the systemd unit expects."""
    return os.path.join(rundir, f"ldirectord.{cfgname}.pid")


def instance_lock_path(rundir: str, cfgname: str) -> str:
    """Held by every instance, foreground ones too, so two directors never share a table."""
    return os.path.join(rundir, f"pyldirectord.{cfgname}.lock")


@dataclass(frozen=True, slots=True)
class Running:
    pid: int | None  # None only if the holder never managed to write its pid


@dataclass(frozen=True, slots=True)
class Stale:
    pid_text: str


@dataclass(frozen=True, slots=True)
class NoPidFile:
    pass


PidState = Running | Stale | NoPidFile


def _first_line(fd: int) -> str:
    data = os.pread(fd, 64, 0).decode("ascii", "replace")
    return data.split("\n", 1)[0].strip()


def _held_by_another_process(fd: int) -> bool:
    # A shared lock conflicts only with the daemon's exclusive one; it is dropped at once.
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in (errno.EAGAIN, errno.EACCES):
            return True
        raise
    fcntl.lockf(fd, fcntl.LOCK_UN)
    return False


def probe(path: str, *, settle: float = 1.0) -> PidState:
    """Running (lock held), Stale (file with a pid, no lock) or NoPidFile (absent or empty).

    A holder may be between taking the lock and writing its pid; give it ``settle`` seconds.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return NoPidFile()
    try:
        deadline = time.monotonic() + settle
        while _held_by_another_process(fd):
            text = _first_line(fd)
            if text.isdigit():
                return Running(int(text))
            if time.monotonic() >= deadline:
                return Running(None)
            time.sleep(0.02)
        text = _first_line(fd)
        # The reference treats an empty pid file as no pid file at all (quirk 47).
        return Stale(text) if text else NoPidFile()
    finally:
        os.close(fd)


class HeldLock:
    """An exclusively locked file, kept open (closing any fd of it would drop the lock)."""

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.held = False

    @classmethod
    def open(cls, path: str) -> HeldLock:
        """Open (create) without truncating: the file may belong to a live daemon."""
        return cls(path, os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644))

    def acquire(self, *, timeout: float = 2.0) -> bool:
        """Take the lock; False if another process holds it beyond ``timeout``.

        A ``status`` probe holds a shared lock for microseconds, hence the retries. A dying
        daemon may unlink the path between our open and our lock: then we would lock an
        orphan inode, so reopen the path until the locked inode is the one the path names.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)
                continue
            if self._names_our_inode():
                # A stale pid must not be read as ours (and signalled) before we write ours.
                os.ftruncate(self.fd, 0)
                self.held = True
                return True
            os.close(self.fd)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def _names_our_inode(self) -> bool:
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        ours = os.fstat(self.fd)
        return (on_disk.st_dev, on_disk.st_ino) == (ours.st_dev, ours.st_ino)

    def write_pid(self, pid: int) -> None:
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{pid}\n".encode(), 0)
        os.fsync(self.fd)

    def holder_pid(self) -> int | None:
        text = _first_line(self.fd)
        return int(text) if text.isdigit() else None

    def release(self, *, unlink: bool) -> None:
        """Unlink only if we hold the lock and the path is still ours (quirks 1, 37)."""
        if unlink and self.held and self._names_our_inode():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        os.close(self.fd)
