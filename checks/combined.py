"""checktype=N ("combined"): which check runs next, as a pure sequencer (spec 4.1).

The verified order is: negotiate first, then N connects, then negotiate, and so on. A failed
connect forces a negotiate next; a failed negotiate is retried as a negotiate. N=0 means
always negotiate. The caller keeps one ``Combined`` per (virtual, real) and runs what
``next_check`` names, then stores ``after(kind, ok)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Kind = Literal["negotiate", "connect"]

# The reference's counter starts at (and is forced to) 999999: "a negotiate is due".
_DUE = 999_999


@dataclass(frozen=True, slots=True)
class Combined:
    connects: int  # N, the connects between two negotiates
    counter: int = _DUE

    def next_check(self) -> Kind:
        return "negotiate" if self.counter >= self.connects else "connect"

    def after(self, kind: Kind, ok: bool) -> Combined:
        if kind == "negotiate":
            return replace(self, counter=0) if ok else self
        return replace(self, counter=self.counter + 1 if ok else _DUE)
