"""Values derived from immutable config objects, remembered by the objects' identity.

A config (its virtuals and reals) never changes once built, so what a pass derives from it
(a real's IPVS destination, a config's index by service) need be built once. Keyed by ``id``
rather than by value: hashing a big frozen dataclass is itself O(its size) on every lookup.
Each entry holds its objects, so no other object can take one of their ids while it is stored:
a key that matches is the same objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class IdentityMemo(Generic[V]):
    def __init__(self, bound: int) -> None:
        self._bound = bound  # entries kept at most: past it the memo starts afresh
        self._entries: dict[tuple[int, ...], tuple[tuple[object, ...], V]] = {}

    def get(self, objects: tuple[object, ...], build: Callable[[], V]) -> V:
        """The value for ``objects`` (compared by identity), built by ``build`` if new."""
        key = tuple(map(id, objects))
        entry = self._entries.get(key)
        if entry is not None:
            return entry[1]
        if len(self._entries) >= self._bound:
            self._entries.clear()
        value = build()
        self._entries[key] = (objects, value)
        return value
