"""The director's state file: what it shows (``snapshot``, pure) and when it is written.

The file's format and its reader are ``notify/statefile.py``'s, which ``status`` imports alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping

from pyldirectord.config.model import Config, virtual_id
from pyldirectord.core.desired import HealthKey, health_key, service_dest, service_key
from pyldirectord.core.health import RealHealth
from pyldirectord.core.table import DestKey, IpvsTable, ServiceKey
from pyldirectord.notify.log import Log
from pyldirectord.notify.statefile import DirectorState, RealState, VirtualState, write_state

# Seconds between state file writes at least (each is O(reals)), and ten times what the last
# write took: the file is for `status` and tooling, never worth a tenth of the loop.
WRITE_EVERY = 1.0


def snapshot(
    config: Config, health: Mapping[HealthKey, RealHealth], desired: IpvsTable, *, pid: int,
    written_at: float, wall_offset: float, overloaded: bool,
    by_hand: Collection[tuple[ServiceKey, DestKey]] = (),
) -> DirectorState:  # fmt: skip
    """The state of every configured real: its health, and its weight in ``desired`` (0 when
    absent). ``wall_offset`` turns the director's loop clock into Unix time. ``by_hand``: the
    reals whose entry is an operator's edit the director keeps (core/overrides.py)."""
    virtuals = []
    for virtual in config.virtuals:
        key = service_key(virtual)
        reals = []
        for real in virtual.reals:
            seen = health.get(health_key(virtual, real), RealHealth())
            dest = service_dest(virtual, key, real, True).key
            live = desired.reals(key).get(dest)
            when = None if seen.last_check is None else seen.last_check + wall_offset
            weight = 0 if live is None else live.weight
            reals.append(RealState(str(dest), seen.state.value, weight, when, seen.reason,
                                   by_hand=(key, dest) in by_hand,
                                   latency=seen.latency))  # fmt: skip
        virtuals.append(VirtualState(virtual_id(virtual), tuple(reals)))
    return DirectorState(pid, config.path, written_at, tuple(virtuals), overloaded)


class StateFileWriter:
    """Writes the state file after a pass: now, or (a write less than ``WRITE_EVERY`` ago)
    once that much time has passed, then with the newest state. A failed write is logged."""

    def __init__(
        self, path: str, state: Callable[[], DirectorState], log: Log,
        loop: asyncio.AbstractEventLoop,
    ) -> None:  # fmt: skip
        self.path = path
        self._state = state
        self._log = log
        self._loop = loop
        self._written = -WRITE_EVERY  # loop time of the last write
        self._gap = WRITE_EVERY
        self._pending: asyncio.TimerHandle | None = None

    def publish(self) -> None:
        if self._pending is not None:
            return  # a write is already due: it will show the state as it is then
        wait = self._written + self._gap - self._loop.time()
        if wait <= 0:
            self._write()
        else:
            self._pending = self._loop.call_later(wait, self._write)

    def close(self) -> None:
        """No more writes (the lifecycle removes the file once the daemon is done)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _write(self) -> None:
        self._pending = None
        self._written = self._loop.time()
        try:
            write_state(self.path, self._state())
        except OSError as error:
            self._log.log(f"cannot write state file {self.path}: {error.strerror}")
        finally:
            self._gap = max(WRITE_EVERY, 10 * (self._loop.time() - self._written))
