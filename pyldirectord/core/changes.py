"""What the operations we apply mean to an operator: log lines and alert events (pure).

The reference logs and mails one line per ipvsadm command it runs (spec 3.4, 5.1, 6.4). We
apply fewer operations (no start-up churn), and each one is described with the reference's
words: an add or edit of a real to its weight is "Added"/"Restored", to weight 0 "Quiescent",
a delete of a configured real "Deleted", of a real nobody configured "Purged ... (start)".
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from pyldirectord.config.model import (
    Config,
    Real,
    Virtual,
    bracketed,
    effective_fallback,
    virtual_address,
    virtual_id,
)
from pyldirectord.core.desired import fallback_dest, real_dest, service_key
from pyldirectord.core.events import EventKind, RealEvent
from pyldirectord.core.health import RealHealth, State
from pyldirectord.core.ipvsops import (
    AddDest,
    AddService,
    DeleteDest,
    DeleteService,
    EditDest,
    EditService,
    Op,
)
from pyldirectord.core.memo import IdentityMemo
from pyldirectord.core.table import DestKey, IpvsTable, ServiceKey, normal_dest


@dataclass(frozen=True, slots=True)
class Change:
    """One thing to log, and the alert event when it is one the reference mails."""

    log: str
    event: RealEvent | None = None


@dataclass(frozen=True, slots=True)
class _Known:
    virtual: Virtual
    reals: dict[DestKey, str]  # kernel dest -> configured "ip:port"
    fallback: DestKey | None


def _index(config: Config) -> dict[ServiceKey, _Known]:
    index: dict[ServiceKey, _Known] = {}
    for virtual in config.virtuals:
        key = service_key(virtual)
        reals = {
            normal_dest(key, real_dest(real, True)).key: f"{bracketed(real.host)}:{real.port}"
            for real in virtual.reals
        }
        fallback = effective_fallback(virtual, config.globals)
        fallback_key = normal_dest(key, fallback_dest(virtual, fallback)).key if fallback else None
        index.setdefault(key, _Known(virtual, reals, fallback_key))
    return index


def describe(
    ops: Sequence[Op],
    configs: Sequence[Config],
    health: dict[tuple[str, str], RealHealth],
    at: float,
) -> list[Change]:
    """Changes for ``ops``; ``configs`` is the config in force first (a reload passes the old
    one after it, so a removed virtual is still named)."""
    if not ops:
        return []  # the usual pass: nothing to say, and no index to build
    known: dict[ServiceKey, _Known] = {}
    for config in reversed(configs):
        known.update(_cached_index(config))
    return [change for op in ops for change in _describe(op, known, health, at)]


# A config's index is built once, not on every pass (O(reals) each): mostly the config in
# force, and the one a reload replaced.
_INDEXES: IdentityMemo[dict[ServiceKey, _Known]] = IdentityMemo(bound=4)


def _cached_index(config: Config) -> dict[ServiceKey, _Known]:
    return _INDEXES.get((config,), lambda: _index(config))


def _describe(
    op: Op, known: dict[ServiceKey, _Known], health: dict[tuple[str, str], RealHealth], at: float
) -> Iterable[Change]:
    if isinstance(op, AddService | EditService | DeleteService):
        key = op.key if isinstance(op, DeleteService) else op.service.key
        vaddr = virtual_address(known[key].virtual) if key in known else str(key)
        verb = {AddService: "Added", EditService: "Changed"}.get(type(op))
        yield Change(f"{verb} virtual server: {vaddr}" if verb else
                     f"Purged virtual server (start): {vaddr}")  # fmt: skip
        return
    entry = known.get(op.service)
    if entry is None:
        yield Change(f"IPVS: {op}")
        return
    dest_key = op.dest if isinstance(op, DeleteDest) else op.dest.key
    weight = 0 if isinstance(op, DeleteDest) else op.dest.weight
    configured = entry.reals.get(dest_key)
    kind = _kind(op, weight, dest_key == entry.fallback, configured is not None)
    mapped = configured if configured and configured != str(dest_key) else None
    host = str(dest_key.address)
    event = RealEvent(kind, entry.virtual, host, dest_key.port, weight, at, mapped)
    # A real not checked yet placed at weight 0 is the reference's start-up end state, not news.
    state = health.get((virtual_id(entry.virtual), configured or ""), RealHealth()).state
    quiet = configured is not None and state is State.UNKNOWN
    yield Change(event.log_text(), None if quiet else event)


def _kind(op: Op, weight: int, fallback: bool, configured: bool) -> EventKind:
    if fallback:
        if isinstance(op, AddDest):
            return "added-fallback"
        return "restored-fallback" if isinstance(op, EditDest) else "deleted-fallback"
    if isinstance(op, DeleteDest):
        return "deleted" if configured else "purged-start"
    if weight == 0:
        return "quiescent"
    return "added" if isinstance(op, AddDest) else "restored"


def stop_changes(
    table: IpvsTable, config: Config, keys: Iterable[ServiceKey], at: float
) -> list[Change]:
    """What a clean stop logs: each live real purged, then its virtual (spec 3.11)."""
    known = _index(config)
    changes: list[Change] = []
    for key in keys:
        entry = known[key]
        for dest in table.reals(key).values():
            if dest.weight > 0 and dest.key != entry.fallback:
                event = RealEvent("purged-stop", entry.virtual, str(dest.key.address),
                                  dest.key.port, dest.weight, at)  # fmt: skip
                changes.append(Change(event.log_text(), event))
        changes.append(Change(f"Purged virtual server (stop): {virtual_address(entry.virtual)}"))
    return changes


def dests_of(ops: Iterable[Op]) -> set[tuple[ServiceKey, DestKey]]:
    """The reals (service, dest) these operations wrote."""
    return {(op.service, op.dest if isinstance(op, DeleteDest) else op.dest.key)
            for op in ops if isinstance(op, AddDest | EditDest | DeleteDest)}  # fmt: skip


def first_down_changes(
    first_down: Iterable[tuple[Virtual, Real]], desired: IpvsTable,
    written: Collection[tuple[ServiceKey, DestKey]], at: float,
) -> list[Change]:  # fmt: skip
    """The reference's line for a real whose first check failed and that needs no operation.

    The reference's start (and reload) churn adds every new real and takes it out again, so
    a real that is down from the start always gets its ``Deleted real server`` (or
    ``Quiescent``) line and mail (spec 3.2). We place it directly: under ``quiescent=yes``
    that placement is an operation and is described as one; without it the real is simply
    never added, and this says so in the reference's words. ``written``: the reals an
    operation already wrote (and so described) since the start or reload, such as a weight-0
    entry left by an earlier director and deleted before the first check.
    """
    changes = []
    for virtual, real in first_down:
        key = service_key(virtual)
        dest = normal_dest(key, real_dest(real, True)).key
        if dest in desired.reals(key) or (key, dest) in written:
            continue
        configured = f"{bracketed(real.host)}:{real.port}"
        mapped = configured if configured != str(dest) else None
        event = RealEvent("deleted", virtual, str(dest.address), dest.port, 0, at, mapped)
        changes.append(Change(event.log_text(), event))
    return changes
