"""Scale in the sandbox: 10,000 reals in one service, 1,000 services. Correctness only;
the timings are `make bench-ipvs`'s business."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from ipaddress import IPv4Address, ip_address

import pytest
from ipvsadm_text import read_with_ipvsadm

from pyldirectord.core.ipvsops import AddDest, AddService, EditDest
from pyldirectord.core.reconcile import diff
from pyldirectord.core.table import (
    AddressKey,
    Dest,
    DestKey,
    Forwarding,
    IpvsTable,
    Protocol,
    Service,
)
from pyldirectord.kernel.ipvs import Ipvs

pytestmark = pytest.mark.kernel


def nth_address(base: str, n: int) -> IPv4Address:
    return IPv4Address(int(IPv4Address(base)) + n)


@pytest.fixture
async def ipvs() -> AsyncIterator[Ipvs]:
    subprocess.run(["ipvsadm", "-C"], check=True)
    async with Ipvs() as adapter:
        yield adapter
    subprocess.run(["ipvsadm", "-C"], check=True)


async def test_ten_thousand_reals_in_one_service(ipvs: Ipvs) -> None:
    key = AddressKey(Protocol.TCP, ip_address("10.0.0.1"), 80)
    reals = [Dest(DestKey(nth_address("10.1.0.1", i), 80), Forwarding.GATE, 1 + i % 5)
             for i in range(10_000)]
    desired = IpvsTable.of([(Service(key, "wrr"), reals)])
    ops = diff(await ipvs.read_table(), desired, {key})
    assert len(ops) == 10_001 and isinstance(ops[0], AddService)
    ticks = 0

    async def ticker() -> None:  # stands for the health checks sharing the event loop
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    start = ticks
    await ipvs.apply(ops)
    task.cancel()
    assert ticks - start >= 5  # the apply let the loop run between its batches
    assert await ipvs.read_table() == desired
    assert read_with_ipvsadm() == desired
    # A quiesce of every tenth real is 1,000 edits, nothing else.
    quiesced = IpvsTable.of([(Service(key, "wrr"), [
        Dest(d.key, d.forwarding, 0 if i % 10 == 0 else d.weight) for i, d in enumerate(reals)
    ])])
    ops = diff(await ipvs.read_table(), quiesced, {key})
    assert len(ops) == 1_000 and all(isinstance(op, EditDest) for op in ops)
    await ipvs.apply(ops)
    assert await ipvs.read_table() == quiesced


async def test_a_thousand_services(ipvs: Ipvs) -> None:
    desired = IpvsTable.of(
        (Service(AddressKey(Protocol.TCP, nth_address("10.2.0.1", i), 80), "rr"), [
            Dest(DestKey(nth_address("10.3.0.1", i), 8080), Forwarding.MASQ),
            Dest(DestKey(nth_address("10.4.0.1", i), 80), Forwarding.GATE, 2, 100, 10),
        ])
        for i in range(1_000)
    )
    ops = diff(await ipvs.read_table(), desired, desired.services)
    assert sum(isinstance(op, AddService) for op in ops) == 1_000
    assert sum(isinstance(op, AddDest) for op in ops) == 2_000
    await ipvs.apply(ops)
    assert await ipvs.read_table() == desired
    assert read_with_ipvsadm() == desired
    assert diff(await ipvs.read_table(), desired, desired.services) == []
