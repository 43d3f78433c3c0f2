"""smtp, nntp and dns negotiate checks against real servers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import cast

import dns.message
import dns.rdatatype
import dns.rrset
import pytest
from aiosmtpd.controller import Controller
from leaks import no_leaks

from pyldirectord.checks import dns as dns_check
from pyldirectord.checks import nntp, smtp
from pyldirectord.checks.base import CheckSpec, Target


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[int]:
    """aiosmtpd in its own thread: a real SMTP server that answers EHLO."""
    port = closed_port()
    # server_hostname: else aiosmtpd asks the resolver for this host's FQDN at each connection
    controller = Controller(object(), hostname="127.0.0.1", port=port, server_hostname="mx.test")
    controller.start()
    yield port
    controller.stop()


async def test_smtp_greeting_ehlo_quit(smtp_server: int) -> None:
    async with no_leaks():
        result = await smtp.check(Target("127.0.0.1", smtp_server), CheckSpec(negotiatetimeout=3))
    assert result.ok
    assert result.reason.startswith("220 ")


async def test_smtp_refused() -> None:
    result = await smtp.check(Target("127.0.0.1", closed_port()), CheckSpec(negotiatetimeout=3))
    assert not result.ok
    assert result.reason.startswith("SMTP: Error connecting to 127.0.0.1 on port")


@pytest.fixture
async def greeter() -> AsyncIterator[tuple[list[bytes], int]]:
    """A TCP server that greets with the next scripted line (or stays silent for b"")."""
    greetings: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        greeting = greetings.pop(0)
        if greeting:
            writer.write(greeting)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        await reader.read()  # until the check hangs up
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield greetings, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_smtp_bad_greeting(greeter: tuple[list[bytes], int]) -> None:
    greetings, port = greeter
    greetings.append(b"554 go away\r\n")
    result = await smtp.check(Target("127.0.0.1", port), CheckSpec(negotiatetimeout=3))
    assert (result.ok, result.reason) == (False, "SMTP 554 go away")


async def test_nntp_greeting(greeter: tuple[list[bytes], int]) -> None:
    greetings, port = greeter
    greetings.extend([b"200 news.example ready\r\n", b"502 no permission\r\n", b""])
    target = Target("127.0.0.1", port)
    async with no_leaks():
        up = await nntp.check(target, CheckSpec(negotiatetimeout=2))
        refused = await nntp.check(target, CheckSpec(negotiatetimeout=2))
        silent = await nntp.check(target, CheckSpec(negotiatetimeout=0.3))
    assert (up.ok, up.reason) == (True, "200 news.example ready")
    assert (refused.ok, refused.reason) == (False, "greeting '502 no permission'")
    assert (silent.ok, silent.reason) == (False, "timeout after 0.3s")


class DnsServer(asyncio.DatagramProtocol):
    """Answers www.example.test A 192.0.2.10 and the PTR of 127.0.0.9; NXDOMAIN otherwise."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text()
        if name == "www.example.test." and question.rdtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "192.0.2.10"))
        elif name == "9.0.0.127.in-addr.arpa." and question.rdtype == dns.rdatatype.PTR:
            response.answer.append(dns.rrset.from_text(name, 60, "IN", "PTR", "real9.test."))
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def dns_server() -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(DnsServer, local_addr=("127.0.0.1", 0))
    yield transport.get_extra_info("sockname")[1]
    transport.close()


def dns_spec(request: str, receive: str, timeout: float = 2.0) -> CheckSpec:
    return CheckSpec(service="dns", protocol="udp", request=request, receive=receive,
                     negotiatetimeout=timeout)  # fmt: skip


async def test_dns_a_and_ptr(dns_server: int) -> None:
    target = Target("127.0.0.1", dns_server)
    async with no_leaks():
        a = await dns_check.check(target, dns_spec("/www.example.test", r"192\.0\.2\.10"))
        ptr = await dns_check.check(target, dns_spec("/127.0.0.9", "real9"))
        mismatch = await dns_check.check(target, dns_spec("/www.example.test", "10.0.0.1"))
        empty = await dns_check.check(target, dns_spec("/www.example.test", ""))
        missing = await dns_check.check(target, dns_spec("/nope.test", "x"))
    assert (a.ok, a.reason) == (True, "Success")
    assert (ptr.ok, ptr.reason) == (True, "Success")
    assert (mismatch.ok, mismatch.reason) == (False, "Response mismatch: 192.0.2.10")
    assert (empty.ok, empty.reason) == (False, "Response mismatch: 192.0.2.10")
    assert (missing.ok, missing.reason) == (False, "no answer (NXDOMAIN)")


async def test_dns_silent_server_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        target = Target("127.0.0.1", silent.getsockname()[1])
        result = await dns_check.check(target, dns_spec("/www.example.test", "x", 0.3))
    assert (result.ok, result.reason) == (False, "timeout after 0.3s")
