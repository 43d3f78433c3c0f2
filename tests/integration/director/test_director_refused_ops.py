"""An operation the kernel refuses is reported as a failure, never as done: it is retried at
each pass, but its "Added real server" line and alert are not repeated every pass (found by
the IPVS differential: a real with ``l:`` alone, which the kernel refuses with ERANGE)."""

from __future__ import annotations

import errno
from collections.abc import Sequence

from memory_table import ListSink, MemoryTable

from pyldirectord.checks.registry import Checkers
from pyldirectord.config.model import Config, Globals, Real, Virtual
from pyldirectord.core.events import RealEvent
from pyldirectord.core.ipvsops import AddDest, Failure, IpvsApplyError, Op
from pyldirectord.core.observer import Transition
from pyldirectord.notify.log import Log
from pyldirectord.runtime.director import Director

REFUSED = "198.51.100.81"
GOOD = "198.51.100.82"


class RefusingTable(MemoryTable):
    """Refuses what the kernel refuses with ERANGE (a lower threshold above the upper one),
    applying every other operation of the batch, as the netlink edge does."""

    async def apply(self, ops: Sequence[Op]) -> None:
        refused = [op for op in ops if isinstance(op, AddDest)
                   and op.dest.l_threshold > op.dest.u_threshold]  # fmt: skip
        await super().apply([op for op in ops if op not in refused])
        if refused:
            raise IpvsApplyError([Failure(op, errno.ERANGE) for op in refused])


def config() -> Config:
    reals = (
        Real(line=3, host=REFUSED, port=80, forward="masq", weight=2, lower=5),
        Real(line=4, host=GOOD, port=80, forward="masq"),
    )
    virtual = Virtual(line=2, family=4, protocol="tcp", host="192.0.2.70", port=80,
                      reals=reals, checktype="on", scheduler="wlc")  # fmt: skip
    return Config(path="refused.cf", globals=Globals(checkinterval=1), virtuals=(virtual,))


class Counted:
    """An observer that keeps what /metrics counts as IPVS operations applied and refused."""

    def __init__(self) -> None:
        self.ops_applied = self.ops_refused = 0

    def checked(self, check: str, ok: bool, elapsed: float) -> None:
        pass

    def transition(self, transition: Transition) -> None:
        pass

    def applied(self, applied: int, refused: int) -> None:
        self.ops_applied += applied
        self.ops_refused += refused


async def test_a_refused_add_is_logged_as_failed_at_each_pass_and_never_as_done() -> None:
    memory, sink, events = RefusingTable(), ListSink(), list[RealEvent]()
    counted = Counted()
    async with Checkers() as checkers:
        director = Director(config(), memory, checkers, Log(sink), notify=events.append,
                            observer=counted)  # fmt: skip
        await director.start()
        for _ in range(3):
            await director.reconcile()
        await director.stop()
    print("\n".join(sink.lines))
    failures = [line for line in sink.lines if "lower threshold 5 is above upper" in line]
    assert len(failures) >= 4  # start, each of the three passes (and the loop's own)
    assert not [line for line in sink.lines if f"real server: {REFUSED}" in line]
    assert [line for line in sink.lines if line.startswith("Added real server")] == [
        f"Added real server: {GOOD}:80 (192.0.2.70:80) (Weight set to 1)"
    ]
    assert [(e.kind, e.host) for e in events] == [("added", GOOD), ("purged-stop", GOOD)]
    # start: the service and the good real; the refused add at start and at each pass after
    assert counted.ops_applied == len(memory.ops)  # the table saw exactly the applied ones
    assert counted.ops_refused >= 4
