"""The least set of IPVS operations that turns the kernel's table into the one we want.

Pure: tables in, operations (``ipvsops``) out. Only services we own are ever touched: another
tool's virtual services, and ours that an operator is not asking us to manage, stay as they
are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pyldirectord.core.ipvsops import (
    AddDest,
    AddService,
    DeleteDest,
    DeleteService,
    EditDest,
    EditService,
    Op,
)
from pyldirectord.core.table import (
    Dest,
    DestKey,
    IpvsTable,
    Service,
    ServiceKey,
    dest_sort_key,
    service_sort_key,
)


class InconsistentOp(ValueError):
    """An operation that the kernel would refuse against this table (EEXIST, ENOENT)."""


def diff(actual: IpvsTable, desired: IpvsTable, owned: Iterable[ServiceKey]) -> list[Op]:
    """Operations that make `actual` equal `desired` on the `owned` services, and nothing else.

    Order: new and changed services, then reals (deletions first), then removed services, so
    every operation is valid when it runs. A removed service takes its reals with it.
    """
    owned_keys = set(owned)
    stray = set(desired.services) - owned_keys
    if stray:
        raise ValueError(f"desired service {min(stray, key=service_sort_key)} is not owned")
    keys = sorted(owned_keys, key=service_sort_key)
    service_ops: list[Op] = []
    dest_ops: list[Op] = []
    delete_ops: list[Op] = []
    for key in keys:
        want = desired.services.get(key)
        have = actual.services.get(key)
        if want is None:
            if have is not None:
                delete_ops.append(DeleteService(key))
            continue
        if have is None:
            service_ops.append(AddService(want))
        elif have != want:
            service_ops.append(EditService(want))
        dest_ops += _dest_ops(key, actual.reals(key) if have else {}, desired.reals(key))
    return service_ops + dest_ops + delete_ops


def _dest_ops(
    service: ServiceKey, actual: Mapping[DestKey, Dest], desired: Mapping[DestKey, Dest]
) -> list[Op]:
    deletes: list[Op] = []
    changes: list[Op] = []
    for key in sorted(actual.keys() | desired.keys(), key=dest_sort_key):
        want = desired.get(key)
        have = actual.get(key)
        if want is None:
            deletes.append(DeleteDest(service, key))
        elif have is None:
            changes.append(AddDest(service, want))
        elif have != want:
            changes.append(EditDest(service, want))
    return deletes + changes


def apply(ops: Iterable[Op], table: IpvsTable) -> IpvsTable:
    """What the kernel's table becomes after `ops`; refuses what the kernel would refuse."""
    services = dict(table.services)
    dests = {key: dict(reals) for key, reals in table.dests.items()}
    for op in ops:
        _apply_one(op, services, dests)
    return IpvsTable(services, dests)


def _apply_one(
    op: Op, services: dict[ServiceKey, Service], dests: dict[ServiceKey, dict[DestKey, Dest]]
) -> None:
    if isinstance(op, AddService | EditService):
        exists = op.service.key in services
        if exists != isinstance(op, EditService):
            raise InconsistentOp(f"{op}: service {'exists' if exists else 'missing'}")
        services[op.service.key] = op.service
        dests.setdefault(op.service.key, {})
        return
    if isinstance(op, DeleteService):
        if op.key not in services:
            raise InconsistentOp(f"{op}: no such service")
        del services[op.key]
        dests.pop(op.key, None)
        return
    if op.service not in services:
        raise InconsistentOp(f"{op}: no such service")
    reals = dests[op.service]
    key = op.dest if isinstance(op, DeleteDest) else op.dest.key
    exists = key in reals
    if exists != (not isinstance(op, AddDest)):
        raise InconsistentOp(f"{op}: real {'exists' if exists else 'missing'}")
    if isinstance(op, DeleteDest):
        del reals[key]
    else:
        reals[key] = op.dest
