"""The daemon's JSON state file, ``<rundir>/pyldirectord.<CFGNAME>.json``, and its reader.

The director rewrites it atomically after each pass; ``status`` prints it as a table after the
reference's first line. Schema version 1::

    {"schema": 1, "pid": 4242, "config": "/etc/ha.d/ldirectord.cf",
     "written_at": 1764078000.5, "overloaded": false,
     "virtuals": [{"virtual": "tcp:192.168.6.240:80",
                   "reals": [{"real": "10.0.0.1:80", "state": "up", "weight": 1,
                              "last_check": 1764077999.9, "reason": "HTTP 200",
                              "by_hand": false, "latency": 0.004}]}]}

``state`` is the operator's word: ``up``, ``down`` (weight 0 or removed), ``fallback``,
``unchecked``. ``last_check`` is a Unix time or null before the first result. ``by_hand``: an
operator edited the real's entry (``ipvsadm -e``) and the director keeps that edit
(docs/compatibility.md, "Operator edits"); absent in files of older versions (false).
``latency``: the seconds the last check took (null before it; absent in older files).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from pyldirectord.core.faults import printable

SCHEMA_VERSION = 1


def state_file_path(rundir: str, cfgname: str) -> str:
    return os.path.join(rundir, f"pyldirectord.{cfgname}.json")


@dataclass(frozen=True, slots=True)
class RealState:
    real: str  # ip:port as IPVS holds it
    state: str
    weight: int
    last_check: float | None
    reason: str
    by_hand: bool = False  # the weight is an operator's edit the director keeps
    latency: float | None = None  # seconds the last check took; absent in older files


@dataclass(frozen=True, slots=True)
class VirtualState:
    virtual: str  # the reference's virtual id, e.g. tcp:192.168.6.240:80 or fwm:5
    reals: tuple[RealState, ...]


@dataclass(frozen=True, slots=True)
class DirectorState:
    pid: int
    config: str
    written_at: float
    virtuals: tuple[VirtualState, ...]
    overloaded: bool = False


def to_json(state: DirectorState) -> str:
    """One real per line. Written by hand around json.dumps of the parts: ``indent`` (and
    dataclasses' ``asdict``) take the pure-Python encoder, which made this file most of a
    5,000-real director's pass in the sandbox; the C encoder is ten times faster."""
    head = json.dumps({"schema": SCHEMA_VERSION, "pid": state.pid, "config": state.config,
                       "written_at": state.written_at, "overloaded": state.overloaded})  # fmt: skip
    virtuals = ",\n".join(_virtual_json(virtual) for virtual in state.virtuals)
    return f"{head[:-1]}, \"virtuals\": [\n{virtuals}]}}\n"


def _real_document(real: RealState) -> dict[str, Any]:
    return {"real": real.real, "state": real.state, "weight": real.weight,
            "last_check": real.last_check, "reason": real.reason,
            "by_hand": real.by_hand, "latency": real.latency}  # fmt: skip


def _virtual_json(virtual: VirtualState) -> str:
    reals = ",\n".join(json.dumps(_real_document(real)) for real in virtual.reals)
    return f'{{"virtual": {json.dumps(virtual.virtual)}, "reals": [\n{reals}]}}'


def write_state(path: str, state: DirectorState) -> None:
    """Write a temporary file beside ``path`` and rename it: a reader never sees half a file."""
    directory = os.path.dirname(path) or "."
    fd, temporary = tempfile.mkstemp(prefix=".pyldirectord.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(to_json(state))
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _real_from(item: dict[str, Any]) -> RealState:
    last_check = item.get("last_check")
    return RealState(
        real=str(item["real"]),
        state=str(item["state"]),
        weight=int(item["weight"]),
        last_check=None if last_check is None else float(last_check),
        reason=str(item.get("reason", "")),
        by_hand=bool(item.get("by_hand", False)),
        latency=None if item.get("latency") is None else float(item["latency"]),
    )


def from_json(text: str) -> DirectorState:
    """Raises ValueError (or KeyError/TypeError) on anything but a schema-1 document."""
    document = json.loads(text)
    if document.get("schema") != SCHEMA_VERSION:
        raise ValueError(f"unknown state file schema {document.get('schema')!r}")
    virtuals = tuple(
        VirtualState(str(v["virtual"]), tuple(_real_from(r) for r in v["reals"]))
        for v in document["virtuals"]
    )
    return DirectorState(
        pid=int(document["pid"]),
        config=str(document["config"]),
        written_at=float(document["written_at"]),
        virtuals=virtuals,
        overloaded=bool(document.get("overloaded", False)),
    )


def read_state(path: str) -> DirectorState | None:
    """The state, or None when there is no file or it cannot be understood."""
    try:
        with open(path, encoding="utf-8") as stream:
            return from_json(stream.read())
    except (OSError, ValueError, KeyError, TypeError):
        return None


# heartbeat judges a resource by the text of `status` and tests "stopped" / "not ... running"
# before "running"; a check reason quoting such words must not turn a live director "stopped".
_HEARTBEAT_WORDS = re.compile(r"(?i)\b(stopped|running)\b")


def _heartbeat_safe(text: str) -> str:
    return _HEARTBEAT_WORDS.sub(lambda m: f"[{m.group(1)[0]}]{m.group(1)[1:]}", text)


def _when(last_check: float | None, now: float) -> str:
    if last_check is None:
        return "never"
    stamp = time.strftime("%H:%M:%S", time.localtime(last_check))
    return f"{stamp} ({max(0, round(now - last_check))}s ago)"


def _state_words(real: RealState) -> str:
    if not real.by_hand:
        return real.state
    return f"{real.state}, {'drained' if real.weight == 0 else 'weight set'} by hand"


def render_table(state: DirectorState, now: float) -> str:
    """A fixed-width table: virtual, real, state, weight, last check, reason."""
    rows = [("VIRTUAL", "REAL", "STATE", "WEIGHT", "LAST CHECK", "REASON")]
    for virtual in state.virtuals:
        if not virtual.reals:
            rows.append((virtual.virtual, "-", "-", "-", "-", "no real servers"))
        for real in virtual.reals:
            # A server's words, escaped again here: the file may predate the escaping.
            rows.append((virtual.virtual, real.real, _state_words(real), str(real.weight),
                         _when(real.last_check, now), printable(real.reason)))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[5]
             for row in rows]  # fmt: skip
    age = max(0, round(now - state.written_at))
    footer = f"state written {age}s ago by pid {state.pid}"
    if state.overloaded:
        footer += "; OVERLOADED: checks fall behind their interval, last states kept"
    return _heartbeat_safe("\n".join(line.rstrip() for line in lines) + "\n" + footer + "\n")
