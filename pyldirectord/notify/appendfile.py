"""Opening the log and monitor files for append, the way a root daemon must.

The reference opens ``logfile`` and ``monitorfile`` with Perl's ``open(">>")``: it follows a
symlink (anyone who can write the directory can point it at /etc/shadow), blocks forever on
a FIFO without a reader (``--check-config`` hung on one), writes into devices, and creates
the file with whatever umask the daemon inherited. Here the last path component is never
followed (``O_NOFOLLOW``), the open never blocks (``O_NONBLOCK``, cleared once the file is
known to be regular), anything but a regular file is refused, and a new file is created
0640 (less under a stricter umask).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from typing import TextIO

MODE = 0o640
FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class NotRegularFile(OSError):
    def __init__(self, path: str, what: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file ({what})", path)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a directory" if stat.S_ISDIR(mode) else "not a file"


def open_append_fd(path: str) -> int:
    """A descriptor open for append on the regular file ``path``; OSError otherwise
    (``ELOOP`` for a symlink, ``ENXIO`` for a FIFO without reader, ``EINVAL`` for the rest)."""
    fd = os.open(path, FLAGS, MODE)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, _kind(mode))
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_append(path: str) -> TextIO:
    """``open(path, "a")`` with the rules above, as text (undecodable bytes replaced)."""
    return os.fdopen(open_append_fd(path), "a", encoding="utf-8", errors="replace")


def check_append(path: str) -> None:
    """Open and close at once: the reference's test-open of a file it will append to."""
    os.close(open_append_fd(path))
