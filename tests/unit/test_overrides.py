"""An operator's edit of a live real is kept until health changes, a reload, or the real
vanishes (overrides.py); everything else is still repaired."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_address

from pyldirectord.core.ipvsops import AddService, EditDest
from pyldirectord.core.overrides import (
    EditsByHand,
    Overrides,
    detect,
    forget_failed,
    kept_text,
    overlay,
)
from pyldirectord.core.reconcile import apply, diff
from pyldirectord.core.table import (
    AddressKey,
    Dest,
    DestKey,
    Forwarding,
    IpvsTable,
    Protocol,
    Service,
)

VIP = AddressKey(Protocol.TCP, ip_address("192.0.2.1"), 80)
A = DestKey(ip_address("10.0.0.1"), 80)
B = DestKey(ip_address("10.0.0.2"), 80)
OURS = IpvsTable({VIP: Service(VIP)}, {VIP: {A: Dest(A, Forwarding.MASQ, 5),
                                             B: Dest(B, Forwarding.MASQ, 3)}})  # fmt: skip
DRAINED = apply([EditDest(VIP, Dest(A, Forwarding.MASQ, 0))], OURS)  # ipvsadm -e -w 0


def test_a_drain_by_hand_is_found_and_kept_with_no_operation() -> None:
    found = detect(DRAINED, OURS, {})
    assert found == {(VIP, A): Dest(A, Forwarding.MASQ, 0)}
    desired, kept = overlay(OURS, DRAINED, found)
    assert kept == found
    assert diff(DRAINED, desired, [VIP]) == []


def test_the_edit_stays_known_on_the_next_passes() -> None:
    desired, kept = overlay(OURS, DRAINED, detect(DRAINED, OURS, {}))
    for _ in range(3):  # what we applied is now the edit itself: nothing new, nothing undone
        again = detect(DRAINED, desired, kept)
        desired, kept = overlay(OURS, DRAINED, again)
        assert diff(DRAINED, desired, [VIP]) == []
    assert kept == {(VIP, A): Dest(A, Forwarding.MASQ, 0)}


def test_without_the_override_the_weight_is_restored() -> None:
    # What a health change or a reload does: the override is dropped, the director's wins.
    desired, kept = overlay(OURS, DRAINED, {})
    assert kept == {}
    assert diff(DRAINED, desired, [VIP]) == [EditDest(VIP, Dest(A, Forwarding.MASQ, 5))]


def test_a_deleted_real_is_restored_at_the_directors_weight() -> None:
    known: Overrides = {(VIP, A): Dest(A, Forwarding.MASQ, 0)}
    gone = IpvsTable({VIP: Service(VIP)}, {VIP: {B: Dest(B, Forwarding.MASQ, 3)}})
    desired, kept = overlay(OURS, gone, detect(gone, OURS, known))
    assert kept == {}
    assert desired == OURS


def test_a_deleted_service_is_restored() -> None:
    known: Overrides = {(VIP, A): Dest(A, Forwarding.MASQ, 0)}
    desired, kept = overlay(OURS, IpvsTable(), detect(IpvsTable(), OURS, known))
    assert kept == {}
    assert diff(IpvsTable(), desired, [VIP])[0] == AddService(Service(VIP))
    assert desired == OURS


def test_a_real_the_director_no_longer_wants_is_not_kept() -> None:
    unwanted = IpvsTable({VIP: Service(VIP)}, {VIP: {B: Dest(B, Forwarding.MASQ, 3)}})
    desired, kept = overlay(unwanted, DRAINED, detect(DRAINED, OURS, {}))
    assert kept == {}
    assert desired == unwanted


def test_an_edit_back_to_the_directors_entry_ends_the_override() -> None:
    known: Overrides = {(VIP, A): Dest(A, Forwarding.MASQ, 0)}
    _, kept = overlay(OURS, OURS, detect(OURS, DRAINED, known))
    assert kept == {}


def test_thresholds_and_forwarding_edited_by_hand_are_kept_too() -> None:
    edited = replace(OURS.reals(VIP)[A], forwarding=Forwarding.GATE, u_threshold=9)
    live = apply([EditDest(VIP, edited)], OURS)
    desired, kept = overlay(OURS, live, detect(live, OURS, {}))
    assert kept == {(VIP, A): edited}
    assert diff(live, desired, [VIP]) == []


def test_before_the_first_pass_nothing_is_an_edit() -> None:
    # At start (adoption) or after a reload, the director has applied nothing yet: a kernel
    # entry that differs from the config is repaired, never taken for an operator's edit.
    assert detect(DRAINED, IpvsTable(), {}) == {}


def test_a_refused_write_is_retried_not_taken_for_an_edit() -> None:
    wanted = apply([EditDest(VIP, Dest(A, Forwarding.MASQ, 7))], OURS)
    refused = [EditDest(VIP, Dest(A, Forwarding.MASQ, 7))]
    applied = forget_failed(wanted, refused)
    assert A not in applied.reals(VIP) and B in applied.reals(VIP)
    assert detect(OURS, applied, {}) == {}  # the kernel still has 5: no edit, the op retries
    assert forget_failed(wanted, [AddService(Service(VIP))]).services == {}


def test_edits_by_hand_over_passes_health_changes_and_a_reload() -> None:
    edits = EditsByHand()
    desired, noticed = edits.desired(OURS, IpvsTable())  # the first pass writes ours
    edits.applied(desired, ())
    assert (desired, noticed) == (OURS, [])
    desired, noticed = edits.desired(OURS, DRAINED)  # the operator drained A
    edits.applied(desired, ())
    assert noticed == [(VIP, A)] and diff(DRAINED, desired, [VIP]) == []
    assert kept_text(VIP, desired.reals(VIP)[A]) == (
        f"Kept edit by hand: ipvsadm -e {VIP} -r {A} -m -w 0 "
        "(until the real's health changes or a reload)")  # fmt: skip
    desired, noticed = edits.desired(OURS, DRAINED)  # the next pass: kept, not news
    edits.applied(desired, ())
    assert noticed == [] and edits.kept.keys() == {(VIP, A)}
    edits.health_changed(VIP, A)
    desired, _ = edits.desired(OURS, DRAINED)
    assert diff(DRAINED, desired, [VIP]) == [EditDest(VIP, Dest(A, Forwarding.MASQ, 5))]
    edits.applied(desired, ())
    desired, _ = edits.desired(OURS, DRAINED)  # drained again; a reload ends it
    edits.applied(desired, ())
    edits.reset()
    desired, noticed = edits.desired(OURS, DRAINED)
    assert noticed == [] and desired == OURS
