"""IdentityMemo: a value per set of objects by identity, built once, bounded."""

from __future__ import annotations

import functools

from pyldirectord.core.memo import IdentityMemo


def test_built_once_per_identity_not_per_equal_value() -> None:
    memo: IdentityMemo[str] = IdentityMemo(bound=10)
    builds: list[str] = []

    def build(label: str) -> str:
        builds.append(label)
        return label

    first, twin = ["a"], ["a"]  # equal, not the same object
    assert memo.get((first, True), lambda: build("first")) == "first"
    assert memo.get((first, True), lambda: build("again")) == "first"
    assert memo.get((twin, True), lambda: build("twin")) == "twin"
    assert memo.get((first, False), lambda: build("other flag")) == "other flag"
    assert builds == ["first", "twin", "other flag"]


def test_past_its_bound_it_starts_afresh() -> None:
    memo: IdentityMemo[int] = IdentityMemo(bound=2)
    objects = [object() for _ in range(3)]
    for index, held in enumerate(objects):
        memo.get((held,), functools.partial(int, index))
    assert memo.get((objects[0],), lambda: 99) == 99  # dropped when the third came in
    assert memo.get((objects[2],), lambda: 98) == 2  # kept
