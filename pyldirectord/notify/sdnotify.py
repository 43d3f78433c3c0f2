"""systemd's notify protocol, and a watchdog that means "checks are happening".

Under ``Type=notify`` (contrib/systemd) systemd passes ``$NOTIFY_SOCKET`` and, with
``WatchdogSec=``, ``$WATCHDOG_USEC``. The daemon sends ``MAINPID=`` as soon as it exists (the
``start`` process that systemd ran forks it and exits, so the unit needs
``NotifyAccess=all``), ``READY=1`` once the director has checked and programmed the table,
``RELOADING=1``/``STOPPING=1`` around those, and ``WATCHDOG=1`` only while the scheduler makes
progress: a checker that froze while the event loop still runs (keepalived #2523: about 32
hours unnoticed) stops the pings, and systemd restarts the director.

The protocol is one datagram per message to the unix socket, no library needed. The variables
are removed from the environment once read, so the programs the director runs (``execute=``
sub-instances, external checks) never speak for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Protocol

NOTIFY_SOCKET = "NOTIFY_SOCKET"
WATCHDOG_USEC = "WATCHDOG_USEC"
WATCHDOG_PID = "WATCHDOG_PID"


class SystemdNotifier:
    def __init__(self, address: str, watchdog: float | None) -> None:
        # "@name" is an abstract socket: a leading NUL byte on the wire
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog = watchdog  # seconds systemd waits for a WATCHDOG=1, or None
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str]) -> SystemdNotifier | None:
        """From ``$NOTIFY_SOCKET`` and ``$WATCHDOG_USEC``, which it removes from ``environ``.

        ``$WATCHDOG_PID`` names the process systemd started, which is not the daemon when
        ``start`` forked it: the daemon takes the watchdog over with ``MAINPID=``.
        """
        address = environ.pop(NOTIFY_SOCKET, "")
        usec = environ.pop(WATCHDOG_USEC, "")
        environ.pop(WATCHDOG_PID, None)
        if not address or not (address.startswith("/") or address.startswith("@")):
            return None
        watchdog = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 else None
        return cls(address, watchdog)

    def send(self, *fields: str) -> bool:
        """One message (``READY=1``, ``STATUS=...``); False when systemd cannot be reached.
        Never blocks the loop: a datagram socket, sent without waiting."""
        try:
            self._socket.sendto("\n".join(fields).encode(), socket.MSG_DONTWAIT, self._address)
        except OSError:
            return False
        return True

    def close(self) -> None:
        self._socket.close()


class Progress(Protocol):
    """The scheduler as the watchdog sees it (``scheduler.Scheduler``)."""

    @property
    def completed(self) -> int: ...

    @property
    def overloaded(self) -> bool: ...

    def overdue(self, now: float) -> int: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    healthy: bool
    status: str


def judge(ended_before: int, ended_now: int, overdue: int, overloaded: bool) -> Verdict:
    """Whether checks are happening. Every real's check is due and done within its interval
    plus its bound, so one more than a whole interval late means the scheduler is stuck; an
    overloaded director is late everywhere, so it passes as long as checks still end."""
    if overdue == 0:
        return Verdict(True, "checks running")
    if overloaded and ended_now > ended_before:
        return Verdict(True, f"overloaded: {overdue} checks late, checks still ending")
    return Verdict(False, f"checks stalled: {overdue} checks overdue by more than an interval")


class CheckWatchdog:
    """Sends ``WATCHDOG=1`` every half watchdog period while ``judge`` says healthy, and a
    ``STATUS=`` line whenever the verdict's text changes."""

    def __init__(self, notifier: SystemdNotifier, progress: Progress,
                 clock: Callable[[], float], shown_status: str = "") -> None:  # fmt: skip
        assert notifier.watchdog is not None
        self._notifier = notifier
        self._progress = progress
        self._clock = clock
        self._period = notifier.watchdog / 2  # systemd's advice: ping at half the timeout
        self._shown_status = shown_status  # the STATUS= systemd shows already
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="watchdog")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        ended = self._progress.completed
        status = self._shown_status
        while True:
            now_ended = self._progress.completed
            verdict = judge(ended, now_ended, self._progress.overdue(self._clock()),
                            self._progress.overloaded)  # fmt: skip
            ended = now_ended
            fields = ["WATCHDOG=1"] if verdict.healthy else []
            if verdict.status != status:
                status = verdict.status
                fields.append(f"STATUS={status}")
            if fields:
                self._notifier.send(*fields)
            await asyncio.sleep(self._period)


def mainpid() -> str:
    return f"MAINPID={os.getpid()}"


def reloading() -> tuple[str, str]:
    """``RELOADING=1`` with the monotonic time systemd (>= 253) wants beside it."""
    return "RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"
