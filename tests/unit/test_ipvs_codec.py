"""Our struct-packed IPVS messages, checked against pyroute2's own message definitions."""

from __future__ import annotations

import socket
import struct
from ipaddress import ip_address
from typing import Any

import pytest
from pyroute2.netlink.generic import ipvs as genl

from pyldirectord.core.ipvsops import (
    AddDest,
    AddService,
    DeleteDest,
    DeleteService,
    EditService,
    Failure,
    IpvsApplyError,
    IpvsError,
)
from pyldirectord.core.table import (
    AddressKey,
    Dest,
    DestKey,
    Family,
    Forwarding,
    FwmarkKey,
    Protocol,
    Service,
    sched_flags,
)
from pyldirectord.kernel.bulk import BULK_REALS, Step, bulk_friendly
from pyldirectord.kernel.codec import (
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    decode_dest,
    decode_service,
    encode_op,
    split_messages,
)

FAMILY_ID = 0x1D
WEB6 = AddressKey(Protocol.UDP, ip_address("fd00::1"), 53)
MARK = FwmarkKey(Family.INET, 7)


def parsed(data: bytes) -> Any:
    message = genl.ipvsmsg(data)
    message.decode()
    return message


def test_add_service_is_what_pyroute2_reads() -> None:
    service = Service(WEB6, "sh", 300, "64", True, sched_flags(["sh-port"]))
    data = encode_op(AddService(service), FAMILY_ID, 42, ack=True)
    message = parsed(data)
    assert message["header"]["type"] == FAMILY_ID
    assert message["header"]["sequence_number"] == 42
    assert message["header"]["flags"] == NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    assert message["cmd"] == genl.IPVS_CMD_NEW_SERVICE
    attrs = message.get_attr("IPVS_CMD_ATTR_SERVICE")
    assert attrs.get_attr("IPVS_SVC_ATTR_AF") == socket.AF_INET6
    assert attrs.get_attr("IPVS_SVC_ATTR_PROTOCOL") == socket.IPPROTO_UDP
    assert attrs.get_attr("IPVS_SVC_ATTR_ADDR") == "fd00::1"
    assert attrs.get_attr("IPVS_SVC_ATTR_PORT") == 53
    assert attrs.get_attr("IPVS_SVC_ATTR_SCHED_NAME") == "sh"
    assert attrs.get_attr("IPVS_SVC_ATTR_TIMEOUT") == 300
    flags = attrs.get_attr("IPVS_SVC_ATTR_FLAGS")
    assert (flags["flags"], flags["mask"]) == (0x1 | 0x4 | 0x10, 0xFFFFFFFF)
    # An IPv6 "netmask" is the prefix length as a host-order integer, not an address.
    netmask = socket.inet_aton(attrs.get_attr("IPVS_SVC_ATTR_NETMASK"))
    assert struct.unpack("=I", netmask) == (64,)


def test_dest_ops_name_the_service_by_key_only() -> None:
    dest = Dest(DestKey(ip_address("10.0.0.2"), 81), Forwarding.MASQ, 5, 100, 10)
    message = parsed(encode_op(AddDest(MARK, dest), FAMILY_ID, 1, ack=False))
    assert message["header"]["flags"] == NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL
    service = message.get_attr("IPVS_CMD_ATTR_SERVICE")
    assert [name for name, _ in service["attrs"]] == ["IPVS_SVC_ATTR_AF", "IPVS_SVC_ATTR_FWMARK"]
    assert service.get_attr("IPVS_SVC_ATTR_FWMARK") == 7
    real = message.get_attr("IPVS_CMD_ATTR_DEST")
    assert real.get_attr("IPVS_DEST_ATTR_ADDR") == "10.0.0.2"
    assert real.get_attr("IPVS_DEST_ATTR_PORT") == 81
    assert real.get_attr("IPVS_DEST_ATTR_FWD_METHOD") == 0
    assert real.get_attr("IPVS_DEST_ATTR_WEIGHT") == 5
    assert real.get_attr("IPVS_DEST_ATTR_U_THRESH") == 100
    assert real.get_attr("IPVS_DEST_ATTR_L_THRESH") == 10


def test_deletes_use_del_commands_never_update() -> None:
    # pyroute2's "update" command is a DELETE; we only ever send NEW, SET, DEL and GET.
    key = DestKey(ip_address("10.0.0.2"), 80)
    assert parsed(encode_op(DeleteService(MARK), FAMILY_ID, 1, True))["cmd"] == (
        genl.IPVS_CMD_DEL_SERVICE)
    assert parsed(encode_op(DeleteDest(MARK, key), FAMILY_ID, 1, True))["cmd"] == (
        genl.IPVS_CMD_DEL_DEST)
    edit = parsed(encode_op(EditService(Service(MARK)), FAMILY_ID, 1, True))
    assert edit["cmd"] == genl.IPVS_CMD_SET_SERVICE


def kernel_answer(nest: str, attrs: list[tuple[str, Any]]) -> bytes:
    """A GET answer as the kernel sends it, encoded by pyroute2."""
    message = genl.ipvsmsg()
    message["cmd"] = genl.IPVS_CMD_NEW_SERVICE
    message["version"] = 1
    message["attrs"] = [(nest, {"attrs": attrs})]
    message.encode()
    return bytes(message.data)


def test_decode_service_answer() -> None:
    data = kernel_answer("IPVS_CMD_ATTR_SERVICE", [
        ("IPVS_SVC_ATTR_AF", socket.AF_INET),
        ("IPVS_SVC_ATTR_PROTOCOL", socket.IPPROTO_TCP),
        ("IPVS_SVC_ATTR_ADDR", "10.0.0.1"),
        ("IPVS_SVC_ATTR_PORT", 80),
        ("IPVS_SVC_ATTR_SCHED_NAME", "rr"),
        ("IPVS_SVC_ATTR_FLAGS", {"flags": 0x1 | 0x2 | 0x8, "mask": 0xFFFFFFFF}),
        ("IPVS_SVC_ATTR_TIMEOUT", 360),
        ("IPVS_SVC_ATTR_NETMASK", "255.255.255.0"),
    ])
    (message,) = split_messages(data)
    assert decode_service(message.body) == Service(
        AddressKey(Protocol.TCP, ip_address("10.0.0.1"), 80), "rr", 360, "255.255.255.0",
        sched_flags=frozenset({"flag-1"}),
    )


def test_decode_ipv6_fwmark_service_and_dest_answers() -> None:
    data = kernel_answer("IPVS_CMD_ATTR_SERVICE", [
        ("IPVS_SVC_ATTR_AF", socket.AF_INET6),
        ("IPVS_SVC_ATTR_FWMARK", 9),
        ("IPVS_SVC_ATTR_SCHED_NAME", "mh"),
        ("IPVS_SVC_ATTR_FLAGS", {"flags": 0x2, "mask": 0xFFFFFFFF}),
        ("IPVS_SVC_ATTR_TIMEOUT", 0),
        ("IPVS_SVC_ATTR_NETMASK", socket.inet_ntoa(struct.pack("=I", 128))),
    ])
    (message,) = split_messages(data)
    assert decode_service(message.body) == Service(FwmarkKey(Family.INET6, 9), "mh")
    data = kernel_answer("IPVS_CMD_ATTR_DEST", [
        ("IPVS_DEST_ATTR_ADDR_FAMILY", socket.AF_INET6),
        ("IPVS_DEST_ATTR_ADDR", "fd00::2"),
        ("IPVS_DEST_ATTR_PORT", 0),
        ("IPVS_DEST_ATTR_FWD_METHOD", 2),
        ("IPVS_DEST_ATTR_WEIGHT", 3),
        ("IPVS_DEST_ATTR_U_THRESH", 0),
        ("IPVS_DEST_ATTR_L_THRESH", 0),
    ])
    (message,) = split_messages(data)
    assert decode_dest(message.body, Family.INET6) == Dest(
        DestKey(ip_address("fd00::2"), 0), Forwarding.IPIP, 3)


def test_apply_error_leads_with_the_cause_not_its_consequences() -> None:
    web = AddressKey(Protocol.TCP, ip_address("10.0.0.1"), 80)
    add = AddService(Service(web, "nosuch"))
    real = AddDest(web, Dest(DestKey(ip_address("10.0.0.2"), 80)))
    error = IpvsApplyError([Failure(add, 2), Failure(real, 3)])
    assert str(error).startswith(
        '"ipvsadm -A -t 10.0.0.1:80 -s nosuch" failed: scheduler "nosuch"')
    assert str(error).endswith("(and 1 more failed)")
    assert not error.is_race
    assert IpvsApplyError([Failure(real, 17)]).is_race


def _adds(service: Service, count: int) -> list[AddDest]:
    first = ip_address("10.1.0.0")
    return [AddDest(service.key, Dest(DestKey(first + i, 80))) for i in range(count)]


def test_a_new_wrr_service_gets_many_reals_under_rr_then_its_own_scheduler() -> None:
    web = AddressKey(Protocol.TCP, ip_address("10.0.0.1"), 80)
    service = Service(web, "wrr", persistent=300)
    reals = _adds(service, BULK_REALS)
    other = AddService(Service(MARK, "wrr"))
    steps = bulk_friendly([AddService(service), other, *reals])
    assert steps[0] == Step(AddService(Service(web, "rr", persistent=300)), AddService(service))
    assert steps[1] == Step(other, other)  # few reals: as asked
    assert [s.sent for s in steps[2:-1]] == reals
    assert steps[-1] == Step(EditService(service), AddService(service))


def test_bulk_rewrite_leaves_cheap_schedulers_and_existing_services_alone() -> None:
    web = AddressKey(Protocol.TCP, ip_address("10.0.0.1"), 80)
    cheap = Service(web, "wlc")
    assert [s.sent for s in bulk_friendly([AddService(cheap), *_adds(cheap, 300)])] == [
        AddService(cheap), *_adds(cheap, 300)]
    costly = Service(web, "sh")
    assert [s.sent for s in bulk_friendly(_adds(costly, 300))] == _adds(costly, 300)


def test_unknown_forwarding_method_is_a_clear_error() -> None:
    data = kernel_answer("IPVS_CMD_ATTR_DEST", [
        ("IPVS_DEST_ATTR_ADDR_FAMILY", socket.AF_INET),
        ("IPVS_DEST_ATTR_ADDR", "10.0.0.2"),
        ("IPVS_DEST_ATTR_PORT", 80),
        ("IPVS_DEST_ATTR_FWD_METHOD", 4),  # the kernel's BYPASS: not a real's method
        ("IPVS_DEST_ATTR_WEIGHT", 1),
        ("IPVS_DEST_ATTR_U_THRESH", 0),
        ("IPVS_DEST_ATTR_L_THRESH", 0),
    ])
    (message,) = split_messages(data)
    with pytest.raises(IpvsError, match=r"real 10\.0\.0\.2:80: unknown forwarding method 4"):
        decode_dest(message.body, Family.INET)
