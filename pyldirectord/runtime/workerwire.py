"""What the director and its check workers say to each other, and how it is framed.

Each message is one frame on a pipe: a 4-byte big-endian length, then the message pickled.
Pickle is safe here because both ends are our own processes, started by the director from
its own interpreter (``workers.WorkerPool``): nothing else writes to these pipes, and a worker
never unpickles what anyone but its parent sent. The length is still bounded, so that a bug
cannot make either end allocate without limit.

The messages are few and coarse on purpose (docs/design.md, "Check workers"): a worker's
results travel in one ``Results`` per pass of its event loop, as plain tuples, because the
cost per message, not per byte, is what a pipe adds to a check.
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from pyldirectord.core.checkplan import CheckPlan
from pyldirectord.core.health import ProbeResult

HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024  # a shard of 100,000 plans pickles to well under this


class FrameError(Exception):
    """A frame the other end cannot have meant: too long, or not a message."""


# ---------------------------------------------------------------- director -> worker


@dataclass(frozen=True, slots=True)
class Assign:
    """Check exactly these plans from now on (a kept key keeps its timer)."""

    plans: Mapping[str, CheckPlan]
    maintenancedir: str | None
    concurrency: int


@dataclass(frozen=True, slots=True)
class CheckNow:
    """Check these reals at once (a maintenance file appeared or went)."""

    keys: tuple[str, ...]


# ---------------------------------------------------------------- worker -> director

# One result: key, ok, reason, elapsed, maintenance, negotiated, and how long ago (seconds,
# the worker's clock) the check ended, so the director dates it on its own clock.
ResultRow = tuple[str, bool, str, float, bool, bool, float]


@dataclass(frozen=True, slots=True)
class Results:
    rows: tuple[ResultRow, ...]


@dataclass(frozen=True, slots=True)
class Stats:
    """The worker scheduler's figures, sent every STATS_PERIOD: for the watchdog and /metrics."""

    lag: float
    overloaded: bool
    inconclusive: int
    completed: int
    overdue: int


@dataclass(frozen=True, slots=True)
class LogLine:
    text: str


Message = Assign | CheckNow | Results | Stats | LogLine
STATS_PERIOD = 1.0


def row_of(key: str, result: ProbeResult, age: float) -> ResultRow:
    return (key, result.ok, result.reason, result.elapsed, result.maintenance,
            result.negotiated, age)  # fmt: skip


def result_of(row: ResultRow) -> tuple[str, ProbeResult, float]:
    """The key, the result and its age again."""
    key, ok, reason, elapsed, maintenance, negotiated, age = row
    return key, ProbeResult(ok, reason, elapsed, maintenance, negotiated), age


def encode(message: Message) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    if len(payload) > MAX_FRAME:
        raise FrameError(f"message of {len(payload)} bytes exceeds {MAX_FRAME}")
    return HEADER.pack(len(payload)) + payload


def decode(payload: bytes) -> Message:
    message = pickle.loads(payload)
    if not isinstance(message, Assign | CheckNow | Results | Stats | LogLine):
        raise FrameError(f"not a message: {type(message).__name__}")
    return message


async def read_message(reader: asyncio.StreamReader) -> Message | None:
    """The next message, or None at a clean end of the stream (between frames)."""
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as partial:
        if partial.partial:
            raise FrameError("stream ended inside a frame header") from None
        return None
    (length,) = HEADER.unpack(header)
    if length > MAX_FRAME:
        raise FrameError(f"frame of {length} bytes exceeds {MAX_FRAME}")
    try:
        payload = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise FrameError("stream ended inside a frame") from None
    return decode(payload)
