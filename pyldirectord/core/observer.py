"""What the director tells the observability side (metrics, the health-event log) as it works.

The director calls an ``Observer`` where the events already happen (a check finished, a real
changed state, IPVS operations were applied), so that nothing is recomputed or polled for
them. Each call must be cheap and must never raise into the director: the observers here only
count, or hand a record to a background writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pyldirectord.checks.base import CheckSpec


@dataclass(frozen=True, slots=True)
class Transition:
    """One real going from one health state to another (health.State values)."""

    at: float  # Unix time
    virtual: str  # the reference's virtual id, e.g. tcp:192.168.6.240:80
    real: str  # ip:port as configured ([v6]:port)
    old: str
    new: str
    reason: str
    latency: float | None  # seconds the check that decided it took


class Observer(Protocol):
    def checked(self, check: str, ok: bool, elapsed: float) -> None: ...

    def transition(self, transition: Transition) -> None: ...

    def applied(self, applied: int, refused: int) -> None: ...


class Observers:
    """Several observers behind one (none: every call is a no-op); a reload may swap them."""

    def __init__(self, observers: Sequence[Observer] = ()) -> None:
        self._observers = tuple(observers)

    def set(self, observers: Sequence[Observer]) -> None:
        self._observers = tuple(observers)

    def checked(self, check: str, ok: bool, elapsed: float) -> None:
        for observer in self._observers:
            observer.checked(check, ok, elapsed)

    def transition(self, transition: Transition) -> None:
        for observer in self._observers:
            observer.transition(transition)

    def applied(self, applied: int, refused: int) -> None:
        for observer in self._observers:
            observer.applied(applied, refused)


def check_label(spec: CheckSpec, combined: bool) -> str:
    """The check type a metric is labelled with: ``negotiate:http``, ``connect``, ``ping``...

    The service is part of it for negotiate checks (an HTTP and a MySQL negotiate have
    nothing in common); an external check's command is not (it would be a path per config).
    """
    kind = "combined" if combined else spec.checktype
    return f"{kind}:{spec.service}" if kind in ("negotiate", "combined") else kind
