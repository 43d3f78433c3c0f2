"""The kernel's IPVS table over generic netlink. The only module that speaks netlink.

pyroute2's `AsyncIPVS` opens the socket, resolves the IPVS generic-netlink family and runs the
asyncio transport. Its request objects cost about 1 ms per request to encode and 0.5 ms per
answer to parse (measured in the sandbox: 10,000 reals took 13 s one by one, 10 s batched),
so requests and answers are packed here with `struct`, after the attribute layouts pyroute2
declares, and sent in batches: many requests per `sendmsg`, the last one of each batch
asking for an ACK. The kernel runs a batch in order inside the `sendmsg` call and reports
every failure even without an ACK request, so when the last ACK arrives every error of the
batch is in. 10,000 reals apply in about 0.4 s in the sandbox (`make bench-ipvs`).

Only the add, set, del and dump commands are used (pyroute2's "update" sends a DELETE).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import struct
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv6Address
from itertools import count
from types import TracebackType
from typing import Any

from pyroute2.ipvs import AsyncIPVS
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.generic import ipvs as genl_ipvs

from pyldirectord.core.reconcile import (
    AddDest,
    AddService,
    DeleteService,
    EditDest,
    EditService,
    Op,
    diff,
)
from pyldirectord.core.table import (
    SCHED_FLAGS,
    AddressKey,
    Dest,
    DestKey,
    Family,
    Forwarding,
    FwmarkKey,
    IPAddress,
    IpvsTable,
    Protocol,
    Service,
    ServiceKey,
)


def _attr_ids(nla_map: Sequence[tuple[str, str]]) -> dict[str, int]:
    # pyroute2's nla_map lists attributes in kernel order: the index is the attribute type.
    return {name.rsplit("_ATTR_", 1)[1]: index for index, (name, _) in enumerate(nla_map)}


CMD_ATTR = _attr_ids(genl_ipvs.ipvsmsg.nla_map)
SVC_ATTR = _attr_ids(genl_ipvs.ipvsmsg.service.nla_map)
DEST_ATTR = _attr_ids(genl_ipvs.ipvsmsg.dest.nla_map)

NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE, NLM_F_DUMP = 1, 4, 0x200, 0x400, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10  # error replies without a copy of the request
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_GENL = struct.Struct("=BBH")  # genlmsghdr: cmd, version, reserved
_NLA = struct.Struct("=HH")

SVC_F_PERSISTENT, SVC_F_ONEPACKET = 0x1, 0x4
SVC_F_SCHED = {"flag-1": 0x8, "flag-2": 0x10, "flag-3": 0x20}
BUFFER_BYTES = 8 << 20
BATCH_MESSAGES = 1000
ANSWER_TIMEOUT = 30.0
RECEIVE_BYTES = 1 << 17  # a netlink dump part is at most 32 KiB


# --------------------------------------------------------------------------- errors


class IpvsError(Exception):
    """A one-line, operator-readable IPVS failure."""


class IpvsUnavailable(IpvsError):
    """IPVS cannot be used at all: module not loaded, or not allowed."""


@dataclass(frozen=True, slots=True)
class Failure:
    op: Op
    errno: int

    @property
    def is_race(self) -> bool:
        """The table changed behind our back: re-read and diff again."""
        return _is_race(self.op, self.errno)

    def __str__(self) -> str:
        return f'"ipvsadm {self.op}" failed: {_explain(self.op, self.errno)}'


class IpvsApplyError(IpvsError):
    """Some operations failed; every other operation of the batch was applied."""

    def __init__(self, failures: Sequence[Failure]) -> None:
        self.failures = tuple(failures)
        causes = [f for f in self.failures if not f.is_race] or list(self.failures)
        more = len(self.failures) - 1
        super().__init__(str(causes[0]) + (f" (and {more} more failed)" if more else ""))

    @property
    def is_race(self) -> bool:
        return all(f.is_race for f in self.failures)


def _is_race(op: Op, code: int) -> bool:
    if code in (errno.EEXIST, errno.ESRCH):
        return True
    # ENOENT on a service add/edit is an unknown scheduler; on a real it is a missing real.
    return code == errno.ENOENT and not isinstance(op, AddService | EditService)


def _explain(op: Op, code: int) -> str:
    if code == errno.ENOENT and isinstance(op, AddService | EditService):
        name = op.service.scheduler
        return (
            f'scheduler "{name}" is not available: no kernel module ip_vs_{name} '
            f"(check the name, or load it with `modprobe ip_vs_{name}`)"
        )
    if code == errno.ERANGE and isinstance(op, AddDest | EditDest):
        dest = op.dest
        return f"lower threshold {dest.l_threshold} is above upper threshold {dest.u_threshold}"
    if _is_race(op, code):
        what = "already exists" if code == errno.EEXIST else "does not exist"
        return f"{what} (the table changed behind our back; re-read and retry)"
    return _explain_errno(code)


def _explain_errno(code: int) -> str:
    if code in (errno.EPERM, errno.EACCES):
        return "permission denied: IPVS needs CAP_NET_ADMIN (run as root)"
    return f"{os.strerror(code)} (errno {errno.errorcode.get(code, code)})"


NOT_LOADED = (
    "IPVS is not available: the ip_vs kernel module is not loaded (load it with `modprobe ip_vs`)"
)


# --------------------------------------------------------------------------- encoding


def _nla(kind: int, payload: bytes) -> bytes:
    size = _NLA.size + len(payload)
    return _NLA.pack(size, kind) + payload + b"\0" * (-size % 4)


def _u16(kind: int, value: int) -> bytes:
    return _nla(kind, struct.pack("=H", value))


def _u32(kind: int, value: int) -> bytes:
    return _nla(kind, struct.pack("=I", value))


def _be16(kind: int, value: int) -> bytes:
    return _nla(kind, struct.pack("!H", value))


def encode_service_key(key: ServiceKey) -> bytes:
    """The attributes that name a service (all a real's request needs)."""
    if isinstance(key, FwmarkKey):
        return _u16(SVC_ATTR["AF"], key.family) + _u32(SVC_ATTR["FWMARK"], key.fwmark)
    return (
        _u16(SVC_ATTR["AF"], key.family)
        + _u16(SVC_ATTR["PROTOCOL"], key.protocol)
        + _nla(SVC_ATTR["ADDR"], key.address.packed)
        + _be16(SVC_ATTR["PORT"], key.port)
    )


def _netmask_bytes(service: Service) -> bytes:
    # The kernel keeps an IPv4 mask in network order but an IPv6 prefix length as a host
    # integer in the same attribute; pyroute2 decodes both as an IPv4 address.
    if service.key.family is Family.INET:
        return IPv4Address(service.netmask).packed
    return struct.pack("=I", int(service.netmask))


def encode_service(service: Service) -> bytes:
    """Every attribute `ipvsadm -A/-E` sets: an edit replaces them all."""
    flags = SVC_F_PERSISTENT if service.persistent is not None else 0
    flags |= SVC_F_ONEPACKET if service.ops else 0
    for name in service.sched_flags:
        flags |= SVC_F_SCHED[name]
    return (
        encode_service_key(service.key)
        + _nla(SVC_ATTR["SCHED_NAME"], service.scheduler.encode() + b"\0")
        + _nla(SVC_ATTR["FLAGS"], struct.pack("=II", flags, 0xFFFFFFFF))
        + _u32(SVC_ATTR["TIMEOUT"], service.persistent or 0)
        + _nla(SVC_ATTR["NETMASK"], _netmask_bytes(service))
    )


def encode_dest_key(key: DestKey) -> bytes:
    return (
        _nla(DEST_ATTR["ADDR"], key.address.packed)
        + _be16(DEST_ATTR["PORT"], key.port)
        + _u16(DEST_ATTR["ADDR_FAMILY"], key.family)
    )


def encode_dest(dest: Dest) -> bytes:
    return (
        encode_dest_key(dest.key)
        + _u32(DEST_ATTR["FWD_METHOD"], dest.forwarding)
        + _u32(DEST_ATTR["WEIGHT"], dest.weight)
        + _u32(DEST_ATTR["U_THRESH"], dest.u_threshold)
        + _u32(DEST_ATTR["L_THRESH"], dest.l_threshold)
    )


def _op_command(op: Op) -> tuple[int, int, bytes]:
    """(command, extra nlmsg flags, attributes) for one operation."""
    g = genl_ipvs
    service_nest = CMD_ATTR["SERVICE"]
    if isinstance(op, AddService):
        return (
            g.IPVS_CMD_NEW_SERVICE,
            NLM_F_CREATE | NLM_F_EXCL,
            _nla(service_nest, encode_service(op.service)),
        )
    if isinstance(op, EditService):
        return g.IPVS_CMD_SET_SERVICE, 0, _nla(service_nest, encode_service(op.service))
    if isinstance(op, DeleteService):
        return g.IPVS_CMD_DEL_SERVICE, 0, _nla(service_nest, encode_service_key(op.key))
    key = _nla(service_nest, encode_service_key(op.service))
    dest_nest = CMD_ATTR["DEST"]
    if isinstance(op, AddDest):
        return (
            g.IPVS_CMD_NEW_DEST,
            NLM_F_CREATE | NLM_F_EXCL,
            key + _nla(dest_nest, encode_dest(op.dest)),
        )
    if isinstance(op, EditDest):
        return g.IPVS_CMD_SET_DEST, 0, key + _nla(dest_nest, encode_dest(op.dest))
    return g.IPVS_CMD_DEL_DEST, 0, key + _nla(dest_nest, encode_dest_key(op.dest))


def encode_request(family_id: int, command: int, flags: int, seq: int, attrs: bytes) -> bytes:
    body = _GENL.pack(command, genl_ipvs.GENL_VERSION, 0) + attrs
    return _HEADER.pack(_HEADER.size + len(body), family_id, flags, seq, 0) + body


def encode_op(op: Op, family_id: int, seq: int, ack: bool) -> bytes:
    command, flags, attrs = _op_command(op)
    flags |= NLM_F_REQUEST | (NLM_F_ACK if ack else 0)
    return encode_request(family_id, command, flags, seq, attrs)


# --------------------------------------------------------------------------- decoding


@dataclass(frozen=True, slots=True)
class Message:
    kind: int
    seq: int
    body: bytes  # after the netlink header

    @property
    def error(self) -> int:
        """errno of an NLMSG_ERROR/NLMSG_DONE (0 for an ACK or a clean end)."""
        if len(self.body) < 4:
            return 0
        code: int = struct.unpack_from("=i", self.body)[0]
        return abs(code)


def split_messages(data: bytes) -> Iterator[Message]:
    offset = 0
    while offset + _HEADER.size <= len(data):
        size, kind, _flags, seq, _pid = _HEADER.unpack_from(data, offset)
        if size < _HEADER.size:
            break
        yield Message(kind, seq, data[offset + _HEADER.size : offset + size])
        offset += (size + 3) & ~3


def parse_attrs(data: bytes, offset: int = 0) -> dict[int, bytes]:
    attrs = {}
    while offset + _NLA.size <= len(data):
        size, kind = _NLA.unpack_from(data, offset)
        if size < _NLA.size:
            break
        attrs[kind & 0x3FFF] = data[offset + _NLA.size : offset + size]
        offset += (size + 3) & ~3
    return attrs


def _uint(raw: bytes) -> int:
    return int.from_bytes(raw, sys.byteorder)


def _address(family: int, raw: bytes) -> IPAddress:
    return IPv4Address(raw[:4]) if family == Family.INET else IPv6Address(raw[:16])


def decode_service(body: bytes) -> Service | None:
    """A GET_SERVICE answer; None for a service this model cannot hold (e.g. protocol AH)."""
    attrs = parse_attrs(parse_attrs(body, _GENL.size)[CMD_ATTR["SERVICE"]])
    family = Family(_uint(attrs[SVC_ATTR["AF"]]))
    key: ServiceKey
    if SVC_ATTR["FWMARK"] in attrs and _uint(attrs[SVC_ATTR["FWMARK"]]):
        key = FwmarkKey(family, _uint(attrs[SVC_ATTR["FWMARK"]]))
    else:
        protocol = _uint(attrs[SVC_ATTR["PROTOCOL"]])
        if protocol not in Protocol.__members__.values():
            return None
        port = struct.unpack("!H", attrs[SVC_ATTR["PORT"]])[0]
        key = AddressKey(Protocol(protocol), _address(family, attrs[SVC_ATTR["ADDR"]]), port)
    flags = struct.unpack("=II", attrs[SVC_ATTR["FLAGS"]])[0]
    netmask_raw = attrs[SVC_ATTR["NETMASK"]]
    netmask = str(IPv4Address(netmask_raw)) if family is Family.INET else str(_uint(netmask_raw))
    return Service(
        key,
        scheduler=attrs[SVC_ATTR["SCHED_NAME"]].rstrip(b"\0").decode(),
        persistent=_uint(attrs[SVC_ATTR["TIMEOUT"]]) if flags & SVC_F_PERSISTENT else None,
        netmask=netmask,
        ops=bool(flags & SVC_F_ONEPACKET),
        sched_flags=frozenset(name for name in SCHED_FLAGS if flags & SVC_F_SCHED[name]),
    )


# A frozenset, not `Forwarding.__members__.values()`: that builds a mapping proxy per call and
# was 5 % of a 1,000-real director's CPU in the sandbox (read_table runs every pass).
_FORWARDING_CODES = frozenset(int(method) for method in Forwarding)


def decode_dest(body: bytes, service_family: Family) -> Dest:
    attrs = parse_attrs(parse_attrs(body, _GENL.size)[CMD_ATTR["DEST"]])
    family = _uint(attrs.get(DEST_ATTR["ADDR_FAMILY"], b"")) or service_family
    port = struct.unpack("!H", attrs[DEST_ATTR["PORT"]])[0]
    key = DestKey(_address(family, attrs[DEST_ATTR["ADDR"]]), port)
    method = _uint(attrs[DEST_ATTR["FWD_METHOD"]]) & 0x7
    if method not in _FORWARDING_CODES:
        raise IpvsError(f"IPVS real {key}: unknown forwarding method {method} in the kernel")
    return Dest(
        key,
        forwarding=Forwarding(method),
        weight=_uint(attrs[DEST_ATTR["WEIGHT"]]),
        u_threshold=_uint(attrs[DEST_ATTR["U_THRESH"]]),
        l_threshold=_uint(attrs[DEST_ATTR["L_THRESH"]]),
    )


# --------------------------------------------------------------------------- bulk adds

# Schedulers whose per-real cost in the kernel grows with the number of reals: wrr recomputes
# the gcd and maximum of all weights, sh and dh rebuild their hash tables, on every real added.
# 10,000 reals added one by one under wrr cost 4 s of kernel time in the sandbox, 0.8 s under
# rr; a service that is new gets its reals under rr, then its own scheduler once. Not mh: it
# refuses (EINVAL) to start on more reals than its table holds (4093 in Debian's kernels),
# whereas reals added one by one are accepted and silently left out of its table; keep the
# kernel's own behaviour there.
COSTLY_SCHEDULERS = frozenset({"wrr", "sh", "dh"})
BULK_REALS = 256
INTERIM_SCHEDULER = "rr"  # honours weight 0 (quiesced reals get no new connections)


@dataclass(frozen=True, slots=True)
class Step:
    sent: Op  # what goes to the kernel
    reported: Op  # what a failure is reported as: the op the caller asked for


def bulk_friendly(ops: Sequence[Op]) -> list[Step]:
    """`ops` as steps, with many reals of a new costly-scheduler service added under rr first.

    The service is brand new, so no connection sees the interim scheduler; persistence and
    quiesced reals are honoured throughout; the service's own scheduler is set by an edit
    right after its last real, within the same apply.
    """
    adds = Counter(op.service for op in ops if isinstance(op, AddDest))
    bulky = {
        op.service.key: op
        for op in ops
        if isinstance(op, AddService)
        and op.service.scheduler in COSTLY_SCHEDULERS
        and adds[op.service.key] >= BULK_REALS
    }
    last_real = {op.service: i for i, op in enumerate(ops) if isinstance(op, AddDest)}
    steps = []
    for index, op in enumerate(ops):
        if isinstance(op, AddService) and op.service.key in bulky:
            steps.append(Step(AddService(replace(op.service, scheduler=INTERIM_SCHEDULER)), op))
            continue
        steps.append(Step(op, op))
        if isinstance(op, AddDest) and op.service in bulky and last_real[op.service] == index:
            steps.append(Step(EditService(bulky[op.service].service), bulky[op.service]))
    return steps


@dataclass(frozen=True, slots=True)
class _Request:
    seq: int
    step: Step
    data: bytes


# --------------------------------------------------------------------------- the adapter


class _Socket(AsyncIPVS):  # type: ignore[misc]  # pyroute2 is untyped
    """pyroute2's IPVS socket; once bound, its datagrams come to `inbox` unparsed."""

    module_err_level = "debug"  # "ip_vs not loaded" is reported once, by us, with the fix

    def __init__(self) -> None:
        super().__init__(sndbuf=BUFFER_BYTES, rcvbuf=BUFFER_BYTES)
        self.inbox: asyncio.Queue[bytes] | None = None

    def enqueue(self, data: bytes, addr: Any) -> None:
        if self.inbox is None:
            super().enqueue(data, addr)
        else:
            self.inbox.put_nowait(data)


class Ipvs:
    """One netlink socket to the kernel's IPVS, open for the life of the object.

    `async with Ipvs() as ipvs:` then `await ipvs.read_table()` and `await ipvs.apply(ops)`.
    Requests are serialised: one batch or dump at a time.
    """

    def __init__(self, batch: int = BATCH_MESSAGES) -> None:
        self._batch = batch
        self._socket: _Socket | None = None
        self._family_id = 0
        self._seq = count(1)
        self._lock = asyncio.Lock()
        self._max_bytes = 64 << 10
        self._buffer = bytearray(RECEIVE_BYTES)

    async def __aenter__(self) -> Ipvs:
        await self.open()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def open(self) -> None:
        if self._socket is not None:
            return
        sock = _Socket()
        try:
            await sock.setup_endpoint()
        except NetlinkError as error:
            sock.close()
            if error.code in (errno.ENOENT, errno.ENOTSUP):
                raise IpvsUnavailable(NOT_LOADED) from None
            raise IpvsUnavailable(f"IPVS netlink: {_explain_errno(error.code)}") from None
        raw = sock.socket
        with contextlib.suppress(OSError):  # kernels before 4.3: full copies, still correct
            raw.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        for option in (SO_SNDBUFFORCE, SO_RCVBUFFORCE):
            # Beyond net.core.[rw]mem_max; needs CAP_NET_ADMIN, which IPVS needs anyway.
            with contextlib.suppress(OSError):
                raw.setsockopt(socket.SOL_SOCKET, option, BUFFER_BYTES)
        # netlink refuses a sendmsg larger than the send buffer (less a little overhead), and
        # drops answers that overflow the receive buffer: a batch whose every request fails
        # gets one error per request, each costing up to about 2 KiB of buffer.
        self._max_bytes = raw.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 2
        room = raw.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2048
        self._batch = min(self._batch, max(16, room))
        sock.inbox = asyncio.Queue()
        self._family_id = sock.prid
        self._socket = sock

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _open_socket(self) -> _Socket:
        if self._socket is None:
            raise IpvsError("IPVS netlink socket is not open")
        return self._socket

    async def _next(self, sock: _Socket) -> list[Message]:
        messages = list(split_messages(await self._receive(sock)))
        for message in messages:
            if message.seq == 0 and message.kind == NLMSG_ERROR:
                # pyroute2 reports a socket error (e.g. ENOBUFS) as a message with seq 0.
                raise IpvsError(f"IPVS netlink socket: {_explain_errno(message.error)}")
        return messages

    async def _receive(self, sock: _Socket) -> bytes:
        """The next datagram, in order, whoever read it off the socket.

        The kernel answers inside our sendmsg (and makes a dump's next part inside the
        recvmsg that takes the previous one), so the answer is usually there already:
        reading it directly saves an event-loop round per datagram, which is most of the
        cost of reading a table of a thousand services. The transport only reads while we
        await, and what it read is older than what is still queued, so order is kept.
        """
        assert sock.inbox is not None
        if not sock.inbox.empty():
            return sock.inbox.get_nowait()
        try:
            size = sock.socket.recv_into(self._buffer, 0, socket.MSG_DONTWAIT | socket.MSG_TRUNC)
        except (BlockingIOError, InterruptedError):
            pass  # not there yet: wait for the transport
        except OSError as error:
            raise IpvsError(f"IPVS netlink socket: {_explain_errno(error.errno or 0)}") from None
        else:
            if size > len(self._buffer):
                raise IpvsError(f"IPVS netlink: a {size}-byte answer overflowed our buffer")
            return bytes(self._buffer[:size])
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT):
                return await sock.inbox.get()
        except TimeoutError:
            text = f"IPVS netlink: no answer from the kernel in {ANSWER_TIMEOUT:.0f} s"
            raise IpvsError(text) from None

    def _drain(self, sock: _Socket) -> None:
        # Answers to a request we gave up on must not be read as answers to the next one.
        assert sock.inbox is not None
        while not sock.inbox.empty():
            sock.inbox.get_nowait()

    # ----------------------------------------------------------------- reading

    async def _dump(self, command: int, attrs: bytes) -> tuple[list[bytes], int]:
        """Bodies of every answer to one dump request, and its errno (0: complete)."""
        sock = self._open_socket()
        self._drain(sock)
        seq = next(self._seq)
        sock.send(encode_request(self._family_id, command, NLM_F_REQUEST | NLM_F_DUMP, seq, attrs))
        bodies: list[bytes] = []
        while True:
            for message in await self._next(sock):
                if message.seq != seq:
                    continue
                if message.kind in (NLMSG_DONE, NLMSG_ERROR):
                    return bodies, message.error
                bodies.append(message.body)

    async def read_table(self) -> IpvsTable:
        """Every virtual service and real the kernel has, as an `IpvsTable`."""
        async with self._lock:
            bodies, code = await self._dump(genl_ipvs.IPVS_CMD_GET_SERVICE, b"")
            if code:
                raise IpvsError(f"IPVS netlink: reading services: {_explain_errno(code)}")
            services = [s for s in map(decode_service, bodies) if s is not None]
            table = {}
            for index, service in enumerate(services):
                if index % 64 == 63:
                    await asyncio.sleep(0)  # a long read must not starve the checks
                reals = await self._read_reals(service)
                if reals is not None:
                    table[service.key] = (service, reals)
        # As the kernel holds them: no port normalisation, that is for the table we want.
        return IpvsTable(
            {key: service for key, (service, _) in table.items()},
            {key: {dest.key: dest for dest in reals} for key, (_, reals) in table.items()},
        )

    async def _read_reals(self, service: Service) -> list[Dest] | None:
        attrs = _nla(CMD_ATTR["SERVICE"], encode_service_key(service.key))
        bodies, code = await self._dump(genl_ipvs.IPVS_CMD_GET_DEST, attrs)
        if code == errno.ESRCH:
            return None  # deleted since the service dump: it is not in the table
        if code:
            raise IpvsError(f"IPVS netlink: reading {service.key}: {_explain_errno(code)}")
        return [decode_dest(body, service.key.family) for body in bodies]

    # ----------------------------------------------------------------- writing

    async def apply(self, ops: Iterable[Op]) -> None:
        """Carry out `ops` in order. On failure every other op has still been applied, and
        `IpvsApplyError` lists the failed ones (`.is_race`: re-read the table and retry)."""
        failures: list[Failure] = []
        async with self._lock:
            for batch in self._batches(bulk_friendly(list(ops))):
                failures += await self._send_batch(batch)
                await asyncio.sleep(0)  # a long apply must not starve the checks
        if failures:
            raise IpvsApplyError(failures)

    def _batches(self, steps: Sequence[Step]) -> Iterator[list[_Request]]:
        """Requests grouped to fit one sendmsg; the last of each group asks for the ACK."""
        batch: list[_Request] = []
        size = 0
        for step in steps:
            seq = next(self._seq)
            data = encode_op(step.sent, self._family_id, seq, ack=False)
            if batch and (len(batch) >= self._batch or size + len(data) > self._max_bytes):
                yield self._with_ack(batch)
                batch, size = [], 0
            batch.append(_Request(seq, step, data))
            size += len(data)
        if batch:
            yield self._with_ack(batch)

    def _with_ack(self, batch: list[_Request]) -> list[_Request]:
        last = batch[-1]
        batch[-1] = _Request(
            last.seq, last.step, encode_op(last.step.sent, self._family_id, last.seq, ack=True)
        )
        return batch

    async def _send_batch(self, batch: list[_Request]) -> list[Failure]:
        sock = self._open_socket()
        self._drain(sock)
        sock.send(b"".join(request.data for request in batch))
        by_seq = {request.seq: request.step.reported for request in batch}
        last = batch[-1].seq
        failures = []
        while True:
            for message in await self._next(sock):
                if message.kind != NLMSG_ERROR or message.seq not in by_seq:
                    continue
                if message.error:
                    failures.append(Failure(by_seq[message.seq], message.error))
                if message.seq == last:
                    return failures

    async def converge(
        self, desired: IpvsTable, owned: Iterable[ServiceKey], attempts: int = 3
    ) -> list[Op]:
        """Read, diff and apply until the owned part of the kernel's table is `desired`.

        A race (someone else added or removed an entry between our read and our write) is
        retried from a fresh read; anything else is raised. Returns the operations applied.
        """
        owned = frozenset(owned)
        done: list[Op] = []
        for attempt in range(attempts):
            ops = diff(await self.read_table(), desired, owned)
            try:
                await self.apply(ops)
            except IpvsApplyError as error:
                if not error.is_race or attempt == attempts - 1:
                    raise
                done += [op for op in ops if op not in {f.op for f in error.failures}]
                continue
            return done + ops
        return done
