"""Many reals for a new service under a costly scheduler: added under rr, then switched.

Pure: the operations the reconciler asked for in, the steps sent to the kernel out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pyldirectord.core.ipvsops import AddDest, AddService, EditService, Op

# Schedulers whose per-real cost in the kernel grows with the number of reals: wrr recomputes
# the gcd and maximum of all weights, sh and dh rebuild their hash tables, on every real added.
# 10,000 reals added one by one under wrr cost 4 s of kernel time in the sandbox, 0.8 s under
# rr; a service that is new gets its reals under rr, then its own scheduler once. Not mh: it
# refuses (EINVAL) to start on more reals than its table holds (4093 in Debian's kernels),
# whereas reals added one by one are accepted and silently left out of its table; keep the
# kernel's own behaviour there.
COSTLY_SCHEDULERS = frozenset({"wrr", "sh", "dh"})
BULK_REALS = 256
INTERIM_SCHEDULER = "rr"  # honours weight 0 (quiesced reals get no new connections)


@dataclass(frozen=True, slots=True)
class Step:
    sent: Op  # what goes to the kernel
    reported: Op  # what a failure is reported as: the op the caller asked for


def bulk_friendly(ops: Sequence[Op]) -> list[Step]:
    """`ops` as steps, with many reals of a new costly-scheduler service added under rr first.

    The service is brand new, so no connection sees the interim scheduler; persistence and
    quiesced reals are honoured throughout; the service's own scheduler is set by an edit
    right after its last real, within the same apply.
    """
    adds = Counter(op.service for op in ops if isinstance(op, AddDest))
    bulky = {
        op.service.key: op
        for op in ops
        if isinstance(op, AddService)
        and op.service.scheduler in COSTLY_SCHEDULERS
        and adds[op.service.key] >= BULK_REALS
    }
    last_real = {op.service: i for i, op in enumerate(ops) if isinstance(op, AddDest)}
    steps = []
    for index, op in enumerate(ops):
        if isinstance(op, AddService) and op.service.key in bulky:
            steps.append(Step(AddService(replace(op.service, scheduler=INTERIM_SCHEDULER)), op))
            continue
        steps.append(Step(op, op))
        if isinstance(op, AddDest) and op.service in bulky and last_real[op.service] == index:
            steps.append(Step(EditService(bulky[op.service].service), bulky[op.service]))
    return steps
