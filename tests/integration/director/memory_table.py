"""An in-memory IPVS table standing in for the kernel in host tests: it refuses what the
kernel refuses (reconcile.apply) and records every operation."""

from __future__ import annotations

from collections.abc import Sequence

from pyldirectord.core.ipvsops import Op
from pyldirectord.core.reconcile import apply
from pyldirectord.core.table import IpvsTable


class MemoryTable:
    def __init__(self, table: IpvsTable | None = None) -> None:
        self.table = table or IpvsTable()
        self.ops: list[Op] = []

    async def read_table(self) -> IpvsTable:
        return self.table

    async def apply(self, ops: Sequence[Op]) -> None:
        self.table = apply(ops, self.table)
        self.ops.extend(ops)

    def take_ops(self) -> list[str]:
        taken = [str(op) for op in self.ops]
        self.ops.clear()
        return taken


class ListSink:
    """A log sink that keeps the lines (the Log class formats and filters them)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, message: str, now: float) -> None:
        self.lines.append(message)

    def close(self) -> None:
        pass
