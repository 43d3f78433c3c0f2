"""The per-virtual ``monitorfile``: one line per logged check result, every pass (spec 6.3).

``[<ctime>] [<pid>] <real id words> [<up|down>] <message>``, for example::

    [Tue Nov 24 19:12:11 2026] [9480] negotiate http tcp 127.0.0.2 18080 1 masq /ok Test Page
    [up] 200 OK

(one line).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Literal

from pyldirectord.notify.log import Log, ctime

State = Literal["up", "down"]
# Check kinds whose results the reference does not write to the monitorfile.
UNMONITORED = frozenset({"on", "external-perl"})
_ESCAPED = re.compile(r"[%|\r\n]")
_COLONS = re.compile(r":+")


def escape_message(message: str | None) -> str:
    """``-`` for no message; ``%``, ``|``, CR and LF as ``%25``, ``%7c``, ``%0d``, ``%0a``."""
    if message is None:
        return "-"
    return _ESCAPED.sub(lambda m: f"%{ord(m.group()):02x}", message)


def real_id_words(real_id: str) -> str:
    """The real id as the reference prints it: each run of ``:`` one space, no ``\\``."""
    return _COLONS.sub(" ", real_id).replace("\\", "")


# The negotiate checks whose reply the reference writes (spec 6.3, 4.3): the HTTP family its
# status line (``200 OK``) or, on a failure, what LWP said; LDAP and DNS ``Success`` or why
# not. Every other check passes no message, which the reference writes as ``-``.
_REPLY_SERVICES = frozenset({"http", "https", "http_proxy"})
_SUCCESS_SERVICES = frozenset({"ldap", "ldaps", "dns"})
MAINTENANCE = "Server in maintenance"


def monitor_entry(
    checktype: str, service: str, ok: bool, reason: str, *, negotiated: bool = False,
    maintenance: bool = False,
) -> tuple[State, str | None] | None:  # fmt: skip
    """What the reference writes for one check result: (state, message; None is ``-``), or
    None for no line (unmonitored check kinds, and a failed ping). ``negotiated``: the
    service's own check ran, not checktype=N's connect half."""
    if checktype in UNMONITORED or (checktype == "ping" and not ok):
        return None
    state: State = "up" if ok else "down"
    if maintenance:
        return state, MAINTENANCE
    if negotiated and service in _REPLY_SERVICES:
        return state, reason
    if negotiated and service in _SUCCESS_SERVICES:
        return state, "Success" if ok else reason
    return state, None


def monitor_line(now: float, pid: int, real_id: str, state: State, message: str | None) -> str:
    """One monitorfile line, newline included."""
    return (
        f"[{ctime(now)}] [{pid}] {real_id_words(real_id)} [{state}] "
        f"{escape_message(message)}\n"
    )


class MonitorFile:
    """Appends lines to one monitorfile, opened and closed per line like the reference.

    A write error is logged (once until the file works again), never fatal: the reference
    dies there, which takes the whole director down for a full disk.
    """

    def __init__(
        self, path: str, log: Log, *, clock: Callable[[], float] = time.time,
        pid: Callable[[], int] = os.getpid,
    ) -> None:  # fmt: skip
        self.path = path
        self._log = log
        self._clock = clock
        self._pid = pid
        self._failing = False

    def write(self, real_id: str, state: State, message: str | None) -> bool:
        line = monitor_line(self._clock(), self._pid(), real_id, state, message)
        try:
            with open(self.path, "a", encoding="utf-8", errors="replace") as file:
                file.write(line)
        except OSError as err:
            if not self._failing:
                self._log.log(f"Error writing to monitorfile '{self.path}': {err.strerror}")
            self._failing = True
            return False
        self._failing = False
        return True

