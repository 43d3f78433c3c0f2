"""Event texts are the reference's, byte for byte (spec 3.4, 5.1, 6.4)."""

from __future__ import annotations

from typing import get_args

import pytest

from pyldirectord.config.model import Virtual
from pyldirectord.core.events import EventKind, RealEvent

VIP = Virtual(line=1, family=4, protocol="tcp", host="192.0.2.1", port=80)
FWM = Virtual(line=1, family=4, protocol="fwm", host=None, port=0, fwmark=7)
VIP6 = Virtual(line=1, family=6, protocol="tcp", host="2001:db8::5", port=80)


def event(kind: EventKind, weight: int = 1, mapped: str | None = None, **kw: object) -> RealEvent:
    args: dict[str, object] = {"virtual": VIP, "host": "10.0.0.1", "port": 80, **kw}
    return RealEvent(kind=kind, weight=weight, at=0.0, mapped_from=mapped, **args)  # type: ignore[arg-type]


S = "10.0.0.1:80"
V = "(192.0.2.1:80)"
P = "10.0.0.1:8080"
M = f"mapped from {P}"
CASES: list[tuple[EventKind, int, str | None, str, str | None]] = [
    ("added", 1, None, f"Added real server: {S} {V} (Weight set to 1)", None),
    ("restored", 5, None, f"Restored real server: {S} {V} (Weight set to 5)", None),
    ("added-fallback", 1, None, f"Added fallback server: {S} {V} (Weight set to 1)", None),
    ("restored-fallback", 1, None, f"Restored fallback server: {S} {V} (Weight set to 1)", None),
    ("quiescent", 0, None, f"Quiescent real server: {S} {V} (Weight set to 0)", None),
    ("quiescent", 0, P, f"Quiescent real server: {S} {M} {V} (Weight set to 0)", None),
    ("deleted", 0, None, f"Deleted real server: {S} {V}", None),
    ("deleted", 0, P, f"Deleted real server: {S} {M} {V}", None),
    ("deleted-fallback", 0, None, f"Deleted fallback server: {S} {V}", None),
    ("purged-start", 0, None, f"Purged real server (start): {S} {V}", None),
    ("purged-stop", 0, None, f"Purged real server (stop): {S} {V}", None),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "weight", "mapped", "log", "subject"), CASES)
def test_texts(
    kind: EventKind, weight: int, mapped: str | None, log: str, subject: str | None
) -> None:
    e = event(kind, weight, mapped)
    assert e.log_text() == log
    assert e.subject() == (subject or log)


def test_fwmark_and_ipv6_addresses() -> None:
    assert event("added", virtual=FWM, port=0).log_text() == (
        "Added real server: 10.0.0.1:0 (7) (Weight set to 1)"
    )
    e = event("deleted", virtual=VIP6, host="2001:db8::1")
    assert e.log_text() == "Deleted real server: [2001:db8::1]:80 ([2001:db8::5]:80)"
    assert e.repeat_key == "[2001:db8::1]:80 ([2001:db8::5]:80)"


def test_repeat_list_membership() -> None:
    kinds: tuple[EventKind, ...] = get_args(EventKind)
    assert len(kinds) == 9
    remembered = {k for k in kinds if event(k).remembered}
    assert remembered == {"quiescent", "deleted"}
