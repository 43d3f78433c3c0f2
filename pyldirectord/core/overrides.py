"""An operator's edit of a live real (``ipvsadm -e ... -w 0``, a manual drain) is kept.

Pure. The reference only touches a real when its health changes (spec 3.3, 3.4), so operators
drain a real by hand with ``ipvsadm -e -t VIP -r RIP -w 0`` and it stays drained. Our drift
repair re-diffs the whole table every pass and would undo that within one interval. The rule
(docs/compatibility.md, "Operator edits"):

* a real present both in the kernel and in what the director last left there, whose entry
  (weight, thresholds, forwarding) now differs from what the director left, was edited by
  hand: that entry is kept, and the director writes nothing for it;
* the edit holds until the real's health changes (the director then writes the weight the new
  state calls for, as the reference's transition does), or the config is reloaded (the
  reference's reload re-applies every weight), or the real disappears from the kernel (what
  the director owns is restored, at the director's weight);
* an edit back to exactly what the director wants ends the override.

Only reals are covered: services, deleted reals and deleted services are repaired as before.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from pyldirectord.core.ipvsops import AddService, DeleteDest, DeleteService, EditService, Op
from pyldirectord.core.table import Dest, DestKey, IpvsTable, ServiceKey

OverrideKey = tuple[ServiceKey, DestKey]
Overrides = Mapping[OverrideKey, Dest]


def detect(actual: IpvsTable, applied: IpvsTable, known: Overrides) -> dict[OverrideKey, Dest]:
    """``known`` plus every real whose kernel entry differs from what we ``applied`` last."""
    found = dict(known)
    for service, ours in applied.dests.items():
        live = actual.reals(service)
        for key, dest in ours.items():
            have = live.get(key)
            if have is not None and have is not dest and have != dest:
                found[(service, key)] = have
    return found


def overlay(
    desired: IpvsTable, actual: IpvsTable, overrides: Overrides
) -> tuple[IpvsTable, dict[OverrideKey, Dest]]:
    """``desired`` with each override in place of the director's entry, and the overrides
    that still hold: the real is still in the kernel as edited, and still wanted there."""
    kept: dict[OverrideKey, Dest] = {}
    for (service, key), edited in overrides.items():
        wanted = desired.reals(service).get(key)
        if wanted is None or wanted == edited or actual.reals(service).get(key) != edited:
            continue
        kept[(service, key)] = edited
    if not kept:
        return desired, kept
    dests = {service: dict(reals) for service, reals in desired.dests.items()}
    for (service, key), edited in kept.items():
        dests[service][key] = edited
    return IpvsTable(desired.services, dests), kept


def forget_failed(applied: IpvsTable, failed: Iterable[Op]) -> IpvsTable:
    """What we know we left in the kernel: ``applied`` without what a refused operation
    touched, so a failed write is retried at the next pass, never taken for an operator's
    edit."""
    services = dict(applied.services)
    dests = {service: dict(reals) for service, reals in applied.dests.items()}
    for op in failed:
        if isinstance(op, AddService | EditService | DeleteService):
            service = op.key if isinstance(op, DeleteService) else op.service.key
            services.pop(service, None)
            dests.pop(service, None)
        else:
            key = op.dest if isinstance(op, DeleteDest) else op.dest.key
            dests.get(op.service, {}).pop(key, None)
    return IpvsTable(services, dests)


class EditsByHand:
    """The director's memory for the rule above: what its last pass left in the kernel, and
    the edits it keeps. One pass: ``desired`` (the table to write, and the edits first seen
    in it), then ``applied`` (what the kernel refused)."""

    def __init__(self) -> None:
        self._applied = IpvsTable()
        self.kept: dict[OverrideKey, Dest] = {}

    def reset(self) -> None:
        """A reload: every edit ends, and nothing written before counts as ours."""
        self._applied = IpvsTable()
        self.kept = {}

    def health_changed(self, service: ServiceKey, key: DestKey) -> None:
        """The real's new state decides its weight again."""
        self.kept.pop((service, key), None)

    def desired(self, wanted: IpvsTable, actual: IpvsTable) -> tuple[IpvsTable, list[OverrideKey]]:
        known = self.kept
        desired, self.kept = overlay(wanted, actual, detect(actual, self._applied, known))
        return desired, [edit for edit in self.kept if edit not in known]

    def applied(self, desired: IpvsTable, failed: Collection[Op]) -> None:
        self._applied = forget_failed(desired, failed) if failed else desired


def kept_text(service: ServiceKey, dest: Dest) -> str:
    """The one log line an edit by hand gets, when first seen."""
    return (f"Kept edit by hand: ipvsadm -e {service} {dest.ipvsadm_args()} "
            "(until the real's health changes or a reload)")  # fmt: skip
