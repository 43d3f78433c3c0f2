"""The systemd watchdog means "checks are happening": the real scheduler runs two reals'
checks, the watchdog speaks the notify protocol to a unix datagram socket the test binds
(as systemd would), and when one real's checker freezes for good (it swallows even the
scheduler's cancellation, while the event loop runs on) WATCHDOG=1 stops; when it thaws,
the pings come back."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pyldirectord.notify.sdnotify import CheckWatchdog, SystemdNotifier
from pyldirectord.runtime.scheduler import Scheduler, Unit

DEADLINE = 30.0
WATCHDOG = 0.4  # WatchdogSec: pings every 0.2 s
# A check is overdue 2.2 s after it was due (interval + 2 x timeout + grace): far beyond what
# a loaded host delays a 0.2 s round.
INTERVAL, TIMEOUT, GRACE = 0.2, 0.5, 1.0


@dataclass(frozen=True)
class Result:
    ok: bool


class Checker:
    """Answers at once, until frozen: then it never returns, whatever cancels it."""

    def __init__(self) -> None:
        self.frozen = False
        self.thaw = asyncio.Event()
        self.checks = 0

    async def __call__(self) -> Result:
        while self.frozen and not self.thaw.is_set():
            try:
                await self.thaw.wait()
            except asyncio.CancelledError:
                continue  # a stuck checker: the scheduler's guard cannot end it either
        self.checks += 1
        return Result(True)


class NeverOverloaded:
    """The scheduler's progress, with its overload flag held at False: an overloaded director
    that still ends checks keeps pinging (sdnotify.judge, unit-tested), and this test must not
    depend on how loaded the host running it is."""

    def __init__(self, scheduler: Scheduler[Result]) -> None:
        self._scheduler = scheduler

    @property
    def completed(self) -> int:
        return self._scheduler.completed

    @property
    def overloaded(self) -> bool:
        return False

    def overdue(self, now: float) -> int:
        return self._scheduler.overdue(now)


class Systemd:
    """The notify socket, as systemd binds it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.socket.setblocking(False)

    async def message(self, within: float = DEADLINE) -> list[str]:
        async with asyncio.timeout(within):
            data = await asyncio.get_running_loop().sock_recv(self.socket, 4096)
        return data.decode().split("\n")

    async def until(self, field: str) -> list[str]:
        async with asyncio.timeout(DEADLINE):
            while field not in (message := await self.message()):
                pass
        return message


@asynccontextmanager
async def watched(tmp_path: Path, checkers: dict[str, Checker]) -> AsyncIterator[Systemd]:
    systemd = Systemd(tmp_path / "notify")
    loop = asyncio.get_running_loop()
    scheduler = Scheduler[Result](lambda *_: None, lambda _t: Result(False), guard_grace=GRACE)
    scheduler.update({key: Unit(key, checker, TIMEOUT, INTERVAL)
                      for key, checker in checkers.items()})  # fmt: skip
    notifier = SystemdNotifier(str(systemd.path), WATCHDOG)
    watchdog = CheckWatchdog(notifier, NeverOverloaded(scheduler), loop.time)
    watchdog.start()
    try:
        yield systemd
    finally:
        for checker in checkers.values():
            checker.thaw.set()
        await watchdog.close()
        await scheduler.close()
        notifier.close()
        systemd.socket.close()


async def test_a_frozen_checker_stops_the_watchdog_until_it_thaws(tmp_path: Path) -> None:
    stuck, healthy = Checker(), Checker()
    async with watched(tmp_path, {"10.0.0.1:80": stuck, "10.0.0.2:80": healthy}) as systemd:
        assert await systemd.message() == ["WATCHDOG=1", "STATUS=checks running"]
        for _ in range(3):
            assert await systemd.message() == ["WATCHDOG=1"]
        stuck.frozen = True
        stalled = await systemd.until("STATUS=checks stalled: 1 checks overdue by more than "
                                      "an interval")  # fmt: skip
        assert "WATCHDOG=1" not in stalled
        checks_before = healthy.checks
        # Ten watchdog periods of silence, while the loop runs and the other real is checked
        # on: the loop alive is not enough for the watchdog.
        try:
            silence = await systemd.message(within=5 * WATCHDOG)
        except TimeoutError:
            silence = []
        assert silence == []
        assert healthy.checks > checks_before
        stuck.thaw.set()
        assert await systemd.until("STATUS=checks running") == ["WATCHDOG=1",
                                                                "STATUS=checks running"]
        assert await systemd.message() == ["WATCHDOG=1"]
    print(f"healthy real checked {healthy.checks} times; the frozen one {stuck.checks}")
