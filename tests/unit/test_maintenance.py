"""maintenancedir lookup (spec 3.7): the six names in order, PTR names cached."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pyldirectord.runtime.maintenance import (
    MaintenanceDir,
    ReverseNameCache,
    candidate_names,
    reverse_lookup,
)


def test_candidates_in_the_reference_order() -> None:
    assert candidate_names("10.0.0.1", 80, "web1.example.com") == (
        "10.0.0.1:80", "10.0.0.1", "web1.example.com:80", "web1.example.com", "web1:80", "web1",
    )  # fmt: skip
    assert candidate_names("10.0.0.1", 0, None) == ("10.0.0.1:0", "10.0.0.1")
    assert candidate_names("2001:db8::1", 80, None) == ("[2001:db8::1]:80", "[2001:db8::1]")


@pytest.mark.parametrize("fqdn", ["Web1.example.com", "w.example.com", "1web.example", "web1"])
def test_short_name_only_for_the_references_pattern(fqdn: str) -> None:
    assert candidate_names("10.0.0.1", 80, fqdn)[4:] == ()


class FakeResolver:
    def __init__(self, names: dict[str, str | None], delay: float = 0.0) -> None:
        self.names = names
        self.calls: list[str] = []
        self.delay = delay

    async def __call__(self, ip: str) -> str | None:
        self.calls.append(ip)
        await asyncio.sleep(self.delay)
        return self.names.get(ip)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Setup = tuple[MaintenanceDir, FakeResolver, Clock]


async def in_maintenance(mdir: MaintenanceDir, ip: str, port: int) -> bool:
    return await mdir.match(ip, port) is not None


def setup(tmp_path: Path, names: dict[str, str | None]) -> Setup:
    resolver, clock = FakeResolver(names), Clock()
    cache = ReverseNameCache(resolver, clock=clock, ttl=300, negative_ttl=60)
    return MaintenanceDir(str(tmp_path), cache), resolver, clock


SIX = ["10.0.0.1:80", "10.0.0.1", "web1.example.com:80", "web1.example.com", "web1:80", "web1"]


@pytest.mark.parametrize("filename", SIX)
async def test_each_name_puts_the_real_in_maintenance(tmp_path: Path, filename: str) -> None:
    mdir, _, _ = setup(tmp_path, {"10.0.0.1": "web1.example.com"})
    assert not await in_maintenance(mdir, "10.0.0.1", 80)
    (tmp_path / filename).mkdir()  # any file type counts, like Perl's -e
    assert await mdir.match("10.0.0.1", 80) == filename
    assert not await in_maintenance(mdir, "10.0.0.2", 80)
    # a name with a port holds only that port; a bare name holds every port
    assert await in_maintenance(mdir, "10.0.0.1", 81) == (":" not in filename)
    (tmp_path / filename).rmdir()
    assert not await in_maintenance(mdir, "10.0.0.1", 80)


async def test_no_dns_when_the_directory_is_empty_or_the_address_matches(tmp_path: Path) -> None:
    mdir, resolver, _ = setup(tmp_path, {"10.0.0.1": "web1.example.com"})
    assert not await in_maintenance(mdir, "10.0.0.1", 80)
    (tmp_path / "10.0.0.1").touch()
    assert await in_maintenance(mdir, "10.0.0.1", 80)
    assert resolver.calls == []


async def test_names_are_cached_with_a_ttl(tmp_path: Path) -> None:
    mdir, resolver, clock = setup(tmp_path, {"10.0.0.1": "web1.example.com", "10.0.0.2": None})
    (tmp_path / "other").touch()
    for _ in range(5):
        assert not await in_maintenance(mdir, "10.0.0.1", 80)
        assert not await in_maintenance(mdir, "10.0.0.2", 80)
    assert resolver.calls == ["10.0.0.1", "10.0.0.2"]
    clock.now += 61  # a missing name is asked again sooner than a found one
    await in_maintenance(mdir, "10.0.0.1", 80)
    await in_maintenance(mdir, "10.0.0.2", 80)
    assert resolver.calls == ["10.0.0.1", "10.0.0.2", "10.0.0.2"]
    clock.now += 300
    (tmp_path / "web1").touch()
    assert await mdir.match("10.0.0.1", 80) == "web1"
    assert resolver.calls[-1] == "10.0.0.1" and len(resolver.calls) == 4


async def test_concurrent_lookups_share_one_query_and_failures_mean_no_name() -> None:
    resolver = FakeResolver({"10.0.0.1": "a.example"}, delay=0.05)
    cache = ReverseNameCache(resolver)
    names = await asyncio.gather(*(cache.name("10.0.0.1") for _ in range(20)))
    assert names == ["a.example"] * 20 and resolver.calls == ["10.0.0.1"]

    async def broken(ip: str) -> str | None:
        raise RuntimeError("resolver bug")

    assert await ReverseNameCache(broken).name("10.0.0.1") is None


async def test_default_resolver_returns_none_for_what_has_no_name() -> None:
    assert await reverse_lookup("not-an-address", timeout=5) is None
