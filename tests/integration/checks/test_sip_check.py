"""sip negotiate check against a real Kamailio, over UDP and over TCP (spec 4.3)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from leaks import no_leaks
from probe_config import probe_text, states
from sip_server import HEALTHY, Sip, kamailio_fixture  # noqa: F401  (provides `kamailio`)

from pyldirectord.checks import sip
from pyldirectord.checks.base import CheckSpec, Target

BOTH = pytest.mark.parametrize("protocol", ["udp", "tcp"])


def spec(protocol: str, **kwargs: object) -> CheckSpec:
    values: dict[str, object] = {"service": "sip", "protocol": protocol, "login": HEALTHY,
                                 "negotiatetimeout": 10.0, **kwargs}  # fmt: skip
    return CheckSpec(**values)  # type: ignore[arg-type]


async def run(kamailio: Sip, protocol: str, **kwargs: object) -> tuple[bool, str]:
    result = await sip.check(Target("127.0.0.1", kamailio.port), spec(protocol, **kwargs))
    return result.ok, result.reason


@BOTH
async def test_200_ok_is_up(kamailio: Sip, protocol: str) -> None:
    async with no_leaks(servers=kamailio.daemon.pids):
        assert await run(kamailio, protocol) == (True, "SIP/2.0 200 OK")


@BOTH
async def test_another_status_is_down(kamailio: Sip, protocol: str) -> None:
    assert await run(kamailio, protocol, login="nobody@sip.test") == (
        False, "SIP/2.0 404 Not Found"
    )  # fmt: skip


async def test_server_stopped_is_down(kamailio: Sip) -> None:
    """UDP too: the port-unreachable answer ends it (the ping stand-in said "up")."""
    with kamailio.daemon.stopped():
        outcomes = [await run(kamailio, protocol) for protocol in ("udp", "tcp")]
    assert outcomes == [(False, "Connection refused")] * 2


def test_the_request_is_the_references() -> None:
    request = sip.options_request("ldirectord@director", "UDP", ("127.0.0.1", 5070)).decode()
    lines = request.split("\r\n")
    assert lines[0] == "OPTIONS sip:ldirectord@director SIP/2.0"
    assert lines[1].startswith("Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK")
    assert lines[2:5] == ["Max-Forwards: 70", "To: <sip:ldirectord@director>",
                          lines[4]]  # fmt: skip
    assert lines[4].startswith("From: <sip:ldirectord@director>;tag=")
    assert lines[6:] == ["CSeq: 63104 OPTIONS", "Contact: <sip:ldirectord@director>",
                         "Accept: application/sdp", "Content-Length: 0", "", ""]  # fmt: skip


async def test_a_silent_udp_server_is_bounded() -> None:
    with socket.socket(type=socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        target = Target("127.0.0.1", int(sock.getsockname()[1]))
        result = await sip.check(target, spec("udp", negotiatetimeout=0.5))
    assert (result.ok, result.reason) == (False, "timeout after 0.5s")


async def test_an_http_server_is_not_sip() -> None:
    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(http, "127.0.0.1", 0)
    async with server:
        target = Target("127.0.0.1", server.sockets[0].getsockname()[1])
        result = await sip.check(target, spec("tcp"))
    assert (result.ok, result.reason) == (False, "HTTP/1.1 400 Bad Request")


async def test_probe_of_sip_virtuals(kamailio: Sip, tmp_path: Path) -> None:
    """service=sip written: the login defaults to ldirectord@<host> (spec 8 #35), a user
    this Kamailio does not serve; the healthy login is configured on the other virtual."""
    lines = await probe_text(tmp_path, (
        f"virtual=127.0.0.1:5060\n\treal=127.0.0.1:{kamailio.port} masq\n\tprotocol=udp\n"
        f'\tservice=sip\n\tlogin="{HEALTHY}"\n\n'
        f"virtual=127.0.0.2:5060\n\treal=127.0.0.1:{kamailio.port} masq\n\tprotocol=tcp\n"
        "\tservice=sip\n"))  # fmt: skip
    assert states(lines) == [("negotiate:sip", True, "SIP/2.0 200 OK"),
                             ("negotiate:sip", False, "SIP/2.0 404 Not Found")]  # fmt: skip
