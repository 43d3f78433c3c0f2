"""kernel/ipvs.py against the sandbox kernel's real IPVS, checked through ipvsadm's own view."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import fields
from ipaddress import ip_address
from pathlib import Path

import pytest
from ipvsadm_text import read_with_ipvsadm

from pyldirectord.core.ipvsops import (
    AddDest,
    AddService,
    DeleteDest,
    EditDest,
    EditService,
    IpvsApplyError,
    IpvsUnavailable,
    Op,
)
from pyldirectord.core.reconcile import diff
from pyldirectord.core.table import (
    AddressKey,
    Dest,
    DestKey,
    Family,
    Forwarding,
    FwmarkKey,
    IpvsTable,
    Protocol,
    Service,
    ServiceKey,
    sched_flags,
    service_sort_key,
)
from pyldirectord.kernel.ipvs import Ipvs

pytestmark = pytest.mark.kernel

GATE, MASQ, IPIP = Forwarding.GATE, Forwarding.MASQ, Forwarding.IPIP


async def converge(
    ipvs: Ipvs, desired: IpvsTable, owned: Iterable[ServiceKey], attempts: int = 3
) -> list[Op]:
    """Read, diff and apply until the owned part of the kernel's table is `desired`.

    A race (someone else added or removed an entry between our read and our write) is
    retried from a fresh read; anything else is raised. Returns the operations applied.
    """
    owned = frozenset(owned)
    done: list[Op] = []
    for attempt in range(attempts):
        ops = diff(await ipvs.read_table(), desired, owned)
        try:
            await ipvs.apply(ops)
        except IpvsApplyError as error:
            if not error.is_race or attempt == attempts - 1:
                raise
            done += [op for op in ops if op not in {f.op for f in error.failures}]
            continue
        return done + ops
    return done


def tcp(address: str, port: int) -> AddressKey:
    return AddressKey(Protocol.TCP, ip_address(address), port)


def real(address: str, port: int, fwd: Forwarding = GATE, weight: int = 1,
         upper: int = 0, lower: int = 0) -> Dest:
    return Dest(DestKey(ip_address(address), port), fwd, weight, upper, lower)


WEB = tcp("10.0.0.1", 80)
DNS = AddressKey(Protocol.UDP, ip_address("10.0.0.1"), 53)
SCTP = AddressKey(Protocol.SCTP, ip_address("10.0.0.2"), 9)
WEB6 = tcp("fd00::100", 443)
MARK = FwmarkKey(Family.INET, 7)
MARK6 = FwmarkKey(Family.INET6, 7)
EMPTY = FwmarkKey(Family.INET, 8)

RICH = IpvsTable.of([
    (Service(WEB, "rr", persistent=300, netmask="255.255.255.0"), [
        real("10.0.1.1", 8080),  # gate: the kernel's port is the virtual port
        real("10.0.1.2", 8080, MASQ, 2, upper=10, lower=5),
        real("10.0.1.3", 0, IPIP, 0),
    ]),
    (Service(DNS, "sh", ops=True, sched_flags=sched_flags(["sh-fallback", "sh-port"])), [
        real("10.0.1.1", 5353, MASQ),
    ]),
    (Service(SCTP, "fo"), [real("10.0.1.4", 9)]),
    (Service(WEB6, "lc", persistent=30, netmask="96"), [
        real("fd00::1", 4443, MASQ),
        real("fd00::3", 443, GATE, 3, upper=100),
    ]),
    (Service(MARK, "wlc"), [
        real("10.0.1.1", 0),
        real("10.0.1.2", 81),
        real("10.0.1.3", 82, MASQ),
    ]),
    (Service(MARK6, "mh", persistent=60, netmask="64", sched_flags=sched_flags(["mh-port"])), [
        real("fd00::2", 80),
        real("fd00::5", 0, IPIP, 7),
    ]),
    (Service(EMPTY, "wrr"), []),
])


def assert_same(actual: IpvsTable, expected: IpvsTable) -> None:
    """Field by field, so a failure names the service, the real and the field."""
    order = sorted(expected.services, key=service_sort_key)
    assert sorted(actual.services, key=service_sort_key) == order
    for key in order:
        for field in fields(Service):
            got, want = getattr(actual.services[key], field.name), getattr(
                expected.services[key], field.name)
            assert got == want, f"{key} {field.name}: kernel {got!r}, wanted {want!r}"
        assert sorted(actual.reals(key)) == sorted(expected.reals(key)), f"reals of {key}"
        for dest_key, dest in expected.reals(key).items():
            for field in fields(Dest):
                got, want = getattr(actual.reals(key)[dest_key], field.name), getattr(
                    dest, field.name)
                where = f"{key} {dest_key} {field.name}"
                assert got == want, f"{where}: kernel {got!r}, wanted {want!r}"
    assert actual == expected


@pytest.fixture
def clean_table() -> Iterator[None]:
    subprocess.run(["ipvsadm", "-C"], check=True)
    yield
    subprocess.run(["ipvsadm", "-C"], check=True)


@pytest.fixture
async def ipvs(clean_table: None) -> AsyncIterator[Ipvs]:
    async with Ipvs() as adapter:
        yield adapter


async def test_rich_table_applies_and_reads_back_through_netlink_and_ipvsadm(ipvs: Ipvs) -> None:
    ops = diff(await ipvs.read_table(), RICH, RICH.services)
    await ipvs.apply(ops)
    assert_same(await ipvs.read_table(), RICH)
    assert_same(read_with_ipvsadm(), RICH)
    assert diff(await ipvs.read_table(), RICH, RICH.services) == []


async def test_ipvsadm_texts_of_the_ops_are_what_ipvsadm_itself_accepts(ipvs: Ipvs) -> None:
    # The op text is meant for logs and --plan: replaying it through ipvsadm gives our table.
    for op in diff(IpvsTable(), RICH, RICH.services):
        subprocess.run(["ipvsadm", *str(op).split()], check=True)
    assert_same(await ipvs.read_table(), RICH)


def _kernel_schedulers() -> list[str]:
    modules = Path(os.environ["UML_MODROOT"], "lib/modules")
    paths = modules.glob("*/kernel/net/netfilter/ipvs/ip_vs_*.ko")
    names = {path.name.removesuffix(".ko").removeprefix("ip_vs_") for path in paths}
    return sorted(names - {"ftp", "pe_sip"})


async def test_every_scheduler_the_kernel_has(ipvs: Ipvs) -> None:
    schedulers = _kernel_schedulers()
    assert {"rr", "wlc", "sh", "mh"} <= set(schedulers)
    table = IpvsTable.of(
        (Service(tcp("10.0.2.1", 1000 + i), name), [real("10.0.3.1", 0), real("10.0.3.2", 0, MASQ)])
        for i, name in enumerate(schedulers)
    )
    await ipvs.apply(diff(IpvsTable(), table, table.services))
    assert_same(await ipvs.read_table(), table)
    assert_same(read_with_ipvsadm(), table)


async def test_changes_are_edits_in_place(ipvs: Ipvs) -> None:
    await ipvs.apply(diff(IpvsTable(), RICH, RICH.services))
    changed = IpvsTable.of([
        (Service(WEB, "wlc"), [  # persistence off, new scheduler
            real("10.0.1.1", 80, GATE, 0),  # quiesced
            real("10.0.1.2", 8080, MASQ, 2, upper=20, lower=0),
            real("10.0.1.3", 80, GATE, 0),  # ipip -> gate: same kernel key
        ]),
        (Service(MARK6, "mh", persistent=120, netmask="48"), RICH.reals(MARK6).values()),
    ])
    owned: set[ServiceKey] = {WEB, MARK6}
    ops = diff(await ipvs.read_table(), changed, owned)
    assert {type(op) for op in ops} == {EditService, EditDest}
    await ipvs.apply(ops)
    assert_same((await ipvs.read_table()).only(owned), changed)
    assert_same(read_with_ipvsadm().only(owned), changed)


def _live_reals(table: IpvsTable) -> set[tuple[ServiceKey, DestKey]]:
    return {(k, d.key) for k in table.services for d in table.reals(k).values() if d.weight > 0}


def _touched(ops: list[Op]) -> set[tuple[ServiceKey, DestKey]]:
    return {
        (op.service, op.dest if isinstance(op, DeleteDest) else op.dest.key)
        for op in ops
        if isinstance(op, AddDest | DeleteDest)
    }


class RecordingIpvs(Ipvs):
    """The adapter, keeping every op it sent to the kernel."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Op] = []

    async def apply(self, ops: Iterable[Op]) -> None:
        batch = list(ops)
        self.sent += batch
        await super().apply(batch)


async def test_adoption_changes_only_owned_entries_and_never_readds_a_live_real(
    clean_table: None,
) -> None:
    for command in [
        "-A -t 10.0.9.9:80 -s rr", "-a -t 10.0.9.9:80 -r 10.0.1.1:80 -g -w 5",  # foreign
        "-A -f 99 -s wlc", "-a -f 99 -r 10.0.1.7:0 -m -w 0",  # foreign, quiesced
        "-A -t 10.0.0.1:80 -s wlc",  # ours, from a previous run
        "-a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 3",  # live: stays as is
        "-a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 0",  # quiesced: comes back up
        "-a -t 10.0.0.1:80 -r 10.0.1.3:80 -g -w 1 -x 50 -y 5",  # live, thresholds change
        "-a -t 10.0.0.1:80 -r 10.0.1.9:80 -g -w 1",  # untracked: removed
        "-A -t 10.0.0.2:80 -s rr",  # ours, no longer configured
    ]:
        subprocess.run(["ipvsadm", *command.split()], check=True)
    before = read_with_ipvsadm()
    desired = IpvsTable.of([(Service(WEB), [
        real("10.0.1.1", 80, GATE, 3),
        real("10.0.1.2", 80, GATE, 1),
        real("10.0.1.3", 80, GATE, 1, upper=100, lower=10),
        real("10.0.1.4", 80, GATE, 1),  # new
    ])])
    owned: set[ServiceKey] = {WEB, tcp("10.0.0.2", 80)}
    recorder = RecordingIpvs()
    async with recorder as ipvs:
        await converge(ipvs, desired, owned)
    sent = recorder.sent
    after = read_with_ipvsadm()
    foreign = set(before.services) - owned
    assert_same(after.only(foreign), before.only(foreign))
    assert_same(after.only(owned), desired)
    # A live real we still want is edited in place at most, never deleted and added again.
    assert not _touched(sent) & _live_reals(before) & _live_reals(desired)
    assert [str(op) for op in sent] == [
        "-d -t 10.0.0.1:80 -r 10.0.1.9:80",
        "-e -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 1",
        "-e -t 10.0.0.1:80 -r 10.0.1.3:80 -g -w 1 -x 100 -y 10",
        "-a -t 10.0.0.1:80 -r 10.0.1.4:80 -g -w 1",
        "-D -t 10.0.0.2:80",
    ]


async def test_unknown_scheduler_is_one_clear_line(ipvs: Ipvs) -> None:
    with pytest.raises(IpvsApplyError) as error:
        await ipvs.apply([AddService(Service(WEB, "nosuch")), AddDest(WEB, real("10.0.1.1", 80))])
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(
        '"ipvsadm -A -t 10.0.0.1:80 -s nosuch" failed: scheduler "nosuch"')
    assert "modprobe ip_vs_nosuch" in message
    assert not error.value.is_race  # the failed real is a consequence, not a race


async def test_lower_threshold_above_upper_is_refused_clearly(ipvs: Ipvs) -> None:
    await ipvs.apply([AddService(Service(WEB))])
    with pytest.raises(IpvsApplyError, match=r"lower threshold 5 is above upper threshold 1$"):
        await ipvs.apply([AddDest(WEB, real("10.0.1.1", 80, GATE, 1, upper=1, lower=5))])
    assert read_with_ipvsadm().reals(WEB) == {}


async def test_failures_in_a_batch_name_their_own_ops_and_the_rest_is_applied(
    clean_table: None,
) -> None:
    ops: list[Op] = [AddService(Service(WEB))]
    ops += [AddDest(WEB, real(f"10.0.1.{i}", 80)) for i in range(1, 11)]
    subprocess.run(["ipvsadm", "-A", "-t", "10.0.0.1:80"], check=True)
    subprocess.run(["ipvsadm", "-a", "-t", "10.0.0.1:80", "-r", "10.0.1.4:80"], check=True)
    subprocess.run(["ipvsadm", "-a", "-t", "10.0.0.1:80", "-r", "10.0.1.9:80"], check=True)
    async with Ipvs(batch=3) as ipvs:
        with pytest.raises(IpvsApplyError) as error:
            await ipvs.apply(ops)
        table = await ipvs.read_table()
    assert [f.op for f in error.value.failures] == [ops[0], ops[4], ops[9]]
    assert error.value.is_race
    assert len(table.reals(WEB)) == 10


async def test_races_are_retried_from_a_fresh_read(ipvs: Ipvs) -> None:
    desired = IpvsTable.of([(Service(WEB), [real("10.0.1.1", 80), real("10.0.1.2", 80)])])
    stale = await ipvs.read_table()
    subprocess.run(["ipvsadm", "-A", "-t", "10.0.0.1:80", "-s", "wlc"], check=True)
    subprocess.run(["ipvsadm", "-a", "-t", "10.0.0.1:80", "-r", "10.0.1.2:80", "-w", "7"],
                   check=True)
    with pytest.raises(IpvsApplyError) as error:
        await ipvs.apply(diff(stale, desired, {WEB}))
    assert error.value.is_race
    assert "already exists" in str(error.value)
    stale = await ipvs.read_table()
    subprocess.run(["ipvsadm", "-d", "-t", "10.0.0.1:80", "-r", "10.0.1.2:80"], check=True)
    with pytest.raises(IpvsApplyError, match="does not exist") as gone:
        await ipvs.apply(diff(stale, desired, {WEB}))
    assert gone.value.is_race
    await converge(ipvs, desired, {WEB})
    assert_same(read_with_ipvsadm(), desired)


async def test_kernel_keeps_a_foreign_gate_real_port_and_we_read_it_as_is(ipvs: Ipvs) -> None:
    # Over netlink the kernel does not force a gate real's port (ipvsadm does): a table read
    # must show what the kernel holds, and a diff against the table we want repairs it.
    raw = real("10.0.1.1", 8080)
    await ipvs.apply([AddService(Service(WEB)), AddDest(WEB, raw)])
    held = read_with_ipvsadm()
    assert list(held.reals(WEB)) == [raw.key]
    assert_same(await ipvs.read_table(), held)
    desired = IpvsTable.of([(Service(WEB), [raw])])
    await converge(ipvs, desired, {WEB})
    assert_same(read_with_ipvsadm(), desired)


def test_missing_capability_is_one_clear_line(clean_table: None) -> None:
    script = (
        "import asyncio\n"
        "from pyldirectord.core.ipvsops import IpvsError\n"
        "from pyldirectord.kernel.ipvs import Ipvs\n"
        "async def main():\n"
        "    async with Ipvs() as ipvs:\n"
        "        await ipvs.read_table()\n"
        "try:\n"
        "    asyncio.run(main())\n"
        "except IpvsError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin", sys.executable, "-c",
         script], capture_output=True, text=True, timeout=60, check=True,
    )
    assert result.stdout.strip() == (
        "IPVS netlink: reading services: permission denied: IPVS needs CAP_NET_ADMIN (run as root)"
    )


IPVS_MODULES = ["ip_vs_" + name for name in _kernel_schedulers()] if "UML_MODROOT" in os.environ \
    else []


def _modprobe(*args: str) -> None:
    subprocess.run(["modprobe", "-d", os.environ["UML_MODROOT"], *args], check=True)


@pytest.fixture
def ip_vs_unloaded(clean_table: None) -> Iterator[None]:
    _modprobe("-r", "-a", *IPVS_MODULES, "ip_vs")
    try:
        yield
    finally:
        _modprobe("-a", "ip_vs", *IPVS_MODULES)


async def test_module_not_loaded_says_how_to_load_it(ip_vs_unloaded: None) -> None:
    assert not Path("/proc/net/ip_vs").exists()
    with pytest.raises(IpvsUnavailable) as error:
        async with Ipvs():
            pass
    assert str(error.value) == (
        "IPVS is not available: the ip_vs kernel module is not loaded "
        "(load it with `modprobe ip_vs`)"
    )
