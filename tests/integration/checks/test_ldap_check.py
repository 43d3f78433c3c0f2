"""ldap and ldaps negotiate checks against a real slapd (spec 4.3): bind, base search, DN."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

import pytest
from ldap_server import HEALTH_DN, ROOT_DN, ROOT_PASSWD, Ldap, slapd_fixture  # noqa: F401
from leaks import no_leaks
from probe_config import probe_text, states

from pyldirectord.checks import ldap
from pyldirectord.checks.base import CheckSpec, Target

BOTH = pytest.mark.parametrize("service", ["ldap", "ldaps"])


def spec(service: str, **kwargs: object) -> CheckSpec:
    values: dict[str, object] = {"service": service, "checktimeout": 10.0,
                                 "negotiatetimeout": 10.0, **kwargs}  # fmt: skip
    return CheckSpec(**values)  # type: ignore[arg-type]


async def run(slapd: Ldap, service: str, **kwargs: object) -> tuple[bool, str]:
    port = slapd.ldap if service == "ldap" else slapd.ldaps
    result = await ldap.check(Target("127.0.0.1", port), spec(service, **kwargs))
    return result.ok, result.reason


@BOTH
async def test_anonymous_entry_whose_dn_matches_is_up(slapd: Ldap, service: str) -> None:
    async with no_leaks(servers=slapd.daemon.pids):
        outcome = await run(slapd, service, request=f"/{HEALTH_DN}", receive="^cn=health,")
    assert outcome == (True, "Success")


@BOTH
async def test_root_dse_is_up_by_default(slapd: Ldap, service: str) -> None:
    """request defaults to "/": the base "" is the root DSE, one entry."""
    assert await run(slapd, service) == (True, "Success")


@BOTH
async def test_bind_with_login_and_passwd_is_up(slapd: Ldap, service: str) -> None:
    outcome = await run(slapd, service, login=ROOT_DN, passwd=ROOT_PASSWD, request=f"/{HEALTH_DN}")
    assert outcome == (True, "Success")


@BOTH
async def test_wrong_password_is_bind_failed(slapd: Ldap, service: str) -> None:
    outcome = await run(slapd, service, login=ROOT_DN, passwd="wrong", request=f"/{HEALTH_DN}")
    assert outcome == (False, "Bind failed: invalidCredentials")


async def test_dn_not_matching_receive_is_a_mismatch(slapd: Ldap) -> None:
    outcome = await run(slapd, "ldap", request=f"/{HEALTH_DN}", receive="cn=other")
    assert outcome == (False, "Response mismatch")


async def test_missing_entry_is_no_answer(slapd: Ldap) -> None:
    outcome = await run(slapd, "ldap", request="/cn=nope,dc=example,dc=org")
    assert outcome == (False, "No answer received")


async def test_server_stopped_is_connection_failed(slapd: Ldap) -> None:
    with slapd.daemon.stopped():
        outcomes = [await run(slapd, service) for service in ("ldap", "ldaps")]
    assert outcomes == [(False, "Connection failed")] * 2


async def test_a_silent_server_is_bounded_by_checktimeout() -> None:
    """The reference's alarm is checktimeout, even with a longer negotiatetimeout."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        target = Target("127.0.0.1", int(sock.getsockname()[1]))
        result = await ldap.check(target, spec("ldap", checktimeout=0.5, negotiatetimeout=30.0))
    assert (result.ok, result.reason) == (False, "timeout after 0.5s")


async def test_a_reply_past_the_byte_limit_ends_the_check() -> None:
    """A server announcing a 2 GB message and streaming it: cut at BODY_LIMIT, not buffered
    until the timeout (the check comes back well before its 20 s bound)."""

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the bind request arrived
        writer.write(b"\x30\x84\x7f\xff\xff\xff" + b"\x04" * (1 << 20))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
            await reader.read()  # until the check hangs up
        writer.close()

    server = await asyncio.start_server(flood, "127.0.0.1", 0)
    async with server:
        target = Target("127.0.0.1", server.sockets[0].getsockname()[1])
        result = await ldap.check(target, spec("ldap", checktimeout=20.0, negotiatetimeout=20.0))
    assert (result.ok, result.reason) == (False, "Bind failed")


async def test_probe_of_an_ldap_virtual(slapd: Ldap, tmp_path: Path) -> None:
    lines = await probe_text(tmp_path, (
        f"virtual=127.0.0.1:389\n\treal=127.0.0.1:{slapd.ldap} masq\n"
        f'\tlogin="{ROOT_DN}"\n\tpasswd="{ROOT_PASSWD}"\n\trequest="{HEALTH_DN}"\n'
        '\treceive="health"\n\n'
        f"virtual=127.0.0.1:636\n\treal=127.0.0.1:{slapd.ldaps} masq\n\tservice=ldaps\n"
        f'\trequest="{HEALTH_DN}"\n\treceive="nomatch"\n'))  # fmt: skip
    assert states(lines) == [("negotiate:ldap", True, "Success"),
                             ("negotiate:ldaps", False, "Response mismatch")]  # fmt: skip
