"""What the director did to a real (or fallback) server, as data.

The director emits one ``RealEvent`` per IPVS change it made; logging, email alerts and the
repeat list all read the same value, so the texts cannot drift apart. The texts are the Perl
ldirectord's, byte for byte (spec 3.4, 5.1, 6.4), because operators grep logs and filter mail
on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pyldirectord.config.model import Virtual, bracketed, virtual_address

EventKind = Literal[
    "added",
    "restored",
    "quiescent",
    "deleted",
    "purged-start",
    "purged-stop",
    "added-fallback",
    "restored-fallback",
    "deleted-fallback",
]

# Repeat-list effect of each kind (spec 5.1): a real taken out of service is remembered so
# that "Inaccessible real server" repeats go out; anything that brings it back, purges it or
# concerns the fallback forgets it.
_REMEMBERED: frozenset[EventKind] = frozenset(("quiescent", "deleted"))


@dataclass(frozen=True, slots=True)
class RealEvent:
    """One IPVS change to a destination of ``virtual``.

    ``host``/``port`` are the destination as the kernel holds it (numeric host, IPv6 without
    brackets); ``mapped_from`` is the configured ``ip:port`` when it differs (a gate/ipip real
    whose port the kernel forced to the virtual's), as in ``Quiescent real server: 10.0.0.3:80
    mapped from 10.0.0.3:8080 (...)``. ``weight`` is the weight set (0 for quiescent, ignored
    for deletes and purges). ``at`` is the director's clock (``loop.time()``), used for the
    alert window and the repeat list.
    """

    kind: EventKind
    virtual: Virtual
    host: str
    port: int
    weight: int
    at: float
    mapped_from: str | None = None

    @property
    def server(self) -> str:
        """``ip:port`` as ldirectord writes it (``[v6]:port``)."""
        return f"{bracketed(self.host)}:{self.port}"

    @property
    def repeat_key(self) -> str:
        """The repeat-list key, ``"<ip:port> (<vaddr>)"`` (spec 5.1)."""
        return f"{self.server} ({virtual_address(self.virtual)})"

    @property
    def remembered(self) -> bool:
        """Whether the event puts the real on the repeat list (else takes it off)."""
        return self.kind in _REMEMBERED

    def log_text(self) -> str:
        """The reference's log line for this change: its mail subject, unprefixed."""
        return self.subject()

    def subject(self) -> str:
        """The reference's email subject (before the ``[servicename] `` prefix)."""
        vaddr = virtual_address(self.virtual)
        tag = "fallback" if self.kind.endswith("-fallback") else "real"
        verb = self.kind.removesuffix("-fallback")
        if verb in ("added", "restored"):
            return (
                f"{verb.capitalize()} {tag} server: {self.server} ({vaddr}) "
                f"(Weight set to {self.weight})"
            )
        if verb == "purged-start" or verb == "purged-stop":
            when = verb.removeprefix("purged-")
            return f"Purged real server ({when}): {self.server} ({vaddr})"
        mapped = f"mapped from {self.mapped_from} " if self.mapped_from else ""
        removed = f"{tag} server: {self.server} {mapped}({vaddr})"
        if verb == "deleted":
            return f"Deleted {removed}"
        return f"Quiescent {removed} (Weight set to 0)"
