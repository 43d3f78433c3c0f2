"""diff() is minimal, ordered, in place where it can be, and never touches foreign services."""

from __future__ import annotations

from ipaddress import ip_address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyldirectord.core.ipvsops import (
    AddDest,
    AddService,
    DeleteDest,
    DeleteService,
    EditDest,
    EditService,
    Op,
)
from pyldirectord.core.reconcile import InconsistentOp, apply, diff
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
    normal_dest,
)

# Small pools, so random tables share keys and every kind of change happens.
SERVICE_KEYS: list[ServiceKey] = [
    AddressKey(Protocol.TCP, ip_address("10.0.0.1"), 80),
    AddressKey(Protocol.UDP, ip_address("10.0.0.1"), 80),
    AddressKey(Protocol.TCP, ip_address("fd00::1"), 443),
    AddressKey(Protocol.SCTP, ip_address("10.0.0.2"), 9),
    FwmarkKey(Family.INET, 7),
    FwmarkKey(Family.INET6, 7),
]
REAL_ADDRESSES = ["10.1.0.1", "10.1.0.2", "fd00::2"]


def services(key: ServiceKey) -> st.SearchStrategy[Service]:
    netmasks = ["", "255.255.255.0"] if key.family is Family.INET else ["", "64"]
    return st.builds(
        Service,
        key=st.just(key),
        scheduler=st.sampled_from(["wlc", "rr", "sh"]),
        persistent=st.sampled_from([None, 300]),
        netmask=st.sampled_from(netmasks),
        ops=st.booleans(),
        sched_flags=st.sampled_from([frozenset(), frozenset({"flag-1", "flag-2"})]),
    )


dests = st.builds(
    Dest,
    key=st.builds(
        DestKey,
        address=st.sampled_from(REAL_ADDRESSES).map(ip_address),
        port=st.sampled_from([0, 80, 8080]),
    ),
    forwarding=st.sampled_from([Forwarding.GATE, Forwarding.MASQ, Forwarding.IPIP]),
    weight=st.integers(0, 3),
    u_threshold=st.sampled_from([0, 100]),
    l_threshold=st.sampled_from([0, 10]),
)


@st.composite
def tables(draw: st.DrawFn) -> IpvsTable:
    keys = draw(st.lists(st.sampled_from(SERVICE_KEYS), unique=True))
    entries = []
    for key in keys:
        reals = {}
        for real in draw(st.lists(dests, max_size=4)):
            normal = normal_dest(key, real)
            reals[normal.key] = normal  # a later real with the same kernel key wins
        entries.append((draw(services(key)), list(reals.values())))
    return IpvsTable.of(entries)


owned_sets = st.lists(st.sampled_from(SERVICE_KEYS), unique=True).map(frozenset)


@settings(max_examples=300)
@given(actual=tables(), desired=tables(), owned=owned_sets)
def test_applying_the_diff_yields_the_desired_table_on_owned_keys(
    actual: IpvsTable, desired: IpvsTable, owned: frozenset[ServiceKey]
) -> None:
    desired = desired.only(owned)
    result = apply(diff(actual, desired, owned), actual)
    assert result.only(owned) == desired
    foreign = set(actual.services) - owned
    assert result.only(foreign) == actual.only(foreign)


@given(table=tables(), owned=owned_sets)
def test_no_change_means_no_operations(table: IpvsTable, owned: frozenset[ServiceKey]) -> None:
    assert diff(table, table.only(owned), owned) == []


@given(actual=tables(), desired=tables(), owned=owned_sets)
def test_foreign_services_are_never_named(
    actual: IpvsTable, desired: IpvsTable, owned: frozenset[ServiceKey]
) -> None:
    for op in diff(actual, desired.only(owned), owned):
        assert _service_of(op) in owned


@given(actual=tables(), desired=tables(), owned=owned_sets)
def test_diff_is_minimal(
    actual: IpvsTable, desired: IpvsTable, owned: frozenset[ServiceKey]
) -> None:
    desired = desired.only(owned)
    ops = diff(actual, desired, owned)
    # Every operation changes something a lower bound counts, and nothing is counted twice.
    expected = 0
    for key in owned:
        have, want = actual.services.get(key), desired.services.get(key)
        if want is None:
            expected += have is not None
            continue
        expected += have != want
        old = actual.reals(key) if have else {}
        new = desired.reals(key)
        expected += sum(old.get(k) != new.get(k) for k in old.keys() | new.keys())
    assert len(ops) == expected


@given(actual=tables(), desired=tables(), owned=owned_sets)
def test_order_services_first_deletions_last(
    actual: IpvsTable, desired: IpvsTable, owned: frozenset[ServiceKey]
) -> None:
    ops = diff(actual, desired.only(owned), owned)
    rank = [_rank(op) for op in ops]
    assert rank == sorted(rank)


def _rank(op: Op) -> int:
    return (
        0 if isinstance(op, AddService | EditService) else 2 if isinstance(op, DeleteService) else 1
    )


def _service_of(op: Op) -> ServiceKey:
    if isinstance(op, AddService | EditService):
        return op.service.key
    if isinstance(op, DeleteService):
        return op.key
    return op.service


WEB = SERVICE_KEYS[0]
R1 = DestKey(ip_address("10.1.0.1"), 80)


def web(*reals: Dest, scheduler: str = "wlc") -> IpvsTable:
    return IpvsTable.of([(Service(WEB, scheduler), reals)])


def test_weight_change_is_an_edit_in_place() -> None:
    ops = diff(web(Dest(R1, weight=1)), web(Dest(R1, weight=0)), {WEB})
    assert ops == [EditDest(WEB, Dest(R1, weight=0))]
    assert str(ops[0]) == "-e -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 0"


def test_scheduler_change_is_an_edit_that_keeps_the_reals() -> None:
    ops = diff(web(Dest(R1)), web(Dest(R1), scheduler="rr"), {WEB})
    assert [str(op) for op in ops] == ["-E -t 10.0.0.1:80 -s rr"]


def test_new_service_then_its_reals_and_texts() -> None:
    ops = diff(IpvsTable(), web(Dest(R1, Forwarding.GATE, 1)), {WEB})
    assert [str(op) for op in ops] == [
        "-A -t 10.0.0.1:80 -s wlc",
        "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1",
    ]


def test_removed_service_is_one_delete() -> None:
    assert diff(web(Dest(R1)), IpvsTable(), {WEB}) == [DeleteService(WEB)]


def test_removed_real() -> None:
    assert diff(web(Dest(R1)), web(), {WEB}) == [DeleteDest(WEB, R1)]
    assert str(DeleteDest(WEB, R1)) == "-d -t 10.0.0.1:80 -r 10.1.0.1:80"


def test_added_real_gets_thresholds_in_text() -> None:
    real = Dest(R1, Forwarding.MASQ, 2, 100, 10)
    assert [str(op) for op in diff(web(), web(real), {WEB})] == [
        "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -m -w 2 -x 100 -y 10"
    ]
    assert diff(web(), web(real), {WEB}) == [AddDest(WEB, real)]


def test_desired_service_must_be_owned() -> None:
    with pytest.raises(ValueError, match="not owned"):
        diff(IpvsTable(), web(), set())


def test_apply_refuses_what_the_kernel_refuses() -> None:
    with pytest.raises(InconsistentOp):
        apply([AddService(Service(WEB))], web())
    with pytest.raises(InconsistentOp):
        apply([AddDest(WEB, Dest(R1))], IpvsTable())
    with pytest.raises(InconsistentOp):
        apply([AddDest(WEB, Dest(R1))], web(Dest(R1)))
    with pytest.raises(InconsistentOp):
        apply([DeleteDest(WEB, R1)], web())
