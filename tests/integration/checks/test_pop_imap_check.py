"""pop, pops, imap and imaps negotiate checks against a real Dovecot (spec 4.3)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from leaks import no_leaks
from mail_server import LOGIN, PASSWD, Mail, dovecot_fixture  # noqa: F401  (provides `dovecot`)
from probe_config import probe_text, states

from pyldirectord.checks import imap, pop
from pyldirectord.checks.base import CheckFn, CheckSpec, Target

SERVICES: dict[str, tuple[CheckFn, Callable[[Mail], int]]] = {
    "pop": (pop.check, lambda mail: mail.pop3),
    "pops": (pop.check, lambda mail: mail.pop3s),
    "imap": (imap.check, lambda mail: mail.imap),
    "imaps": (imap.check, lambda mail: mail.imaps),
}
ALL = pytest.mark.parametrize("service", list(SERVICES))


def spec(service: str, **kwargs: object) -> CheckSpec:
    values: dict[str, object] = {"service": service, "negotiatetimeout": 10.0, **kwargs}
    return CheckSpec(**values)  # type: ignore[arg-type]


async def run(dovecot: Mail, service: str, **kwargs: object) -> tuple[bool, str]:
    check, port = SERVICES[service]
    result = await check(Target("127.0.0.1", port(dovecot)), spec(service, **kwargs))
    return result.ok, result.reason


@ALL
async def test_login_is_up(dovecot: Mail, service: str) -> None:
    async with no_leaks(servers=dovecot.daemon.pids):
        outcome = await run(dovecot, service, login=LOGIN, passwd=PASSWD)
    assert outcome == (True, f"logged in as {LOGIN}")


@ALL
async def test_greeting_alone_is_up_without_a_login(dovecot: Mail, service: str) -> None:
    ok, reason = await run(dovecot, service)
    assert ok
    assert "Dovecot" in reason and "ready" in reason


@ALL
async def test_wrong_password_is_down(dovecot: Mail, service: str) -> None:
    async with no_leaks(servers=dovecot.daemon.pids):
        ok, reason = await run(dovecot, service, login=LOGIN, passwd="wrong")
    assert not ok
    assert "Authentication failed" in reason


async def test_server_stopped_is_down_even_without_a_login(dovecot: Mail) -> None:
    """The reference's pop check was always up without a login, even with no server."""
    with dovecot.daemon.stopped():
        outcomes = {service: await run(dovecot, service) for service in SERVICES}
    assert outcomes == {service: (False, "Connection refused") for service in SERVICES}


@pytest.mark.parametrize("service", ["pops", "imaps"])
async def test_tls_services_need_tls(dovecot: Mail, service: str) -> None:
    """pops/imaps against the plaintext port: the TLS handshake fails, down."""
    plain = {"pops": dovecot.pop3, "imaps": dovecot.imap}[service]
    check = SERVICES[service][0]
    result = await check(Target("127.0.0.1", plain), spec(service, negotiatetimeout=3.0))
    assert not result.ok
    assert result.reason.startswith(("TLS handshake failed", "timeout"))


@pytest.mark.parametrize("service", ["pop", "imap"])
async def test_a_server_that_never_greets_is_bounded(service: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        check = SERVICES[service][0]
        target = Target("127.0.0.1", int(sock.getsockname()[1]))
        result = await check(target, spec(service, negotiatetimeout=0.5))
    assert (result.ok, result.reason) == (False, "timeout after 0.5s")


async def test_probe_of_pop_and_imaps_virtuals(dovecot: Mail, tmp_path: Path) -> None:
    lines = await probe_text(tmp_path, (
        f"virtual=127.0.0.1:110\n\treal=127.0.0.1:{dovecot.pop3} masq\n\tservice=pop\n"
        f'\tlogin="{LOGIN}"\n\tpasswd="{PASSWD}"\n\n'
        f"virtual=127.0.0.1:993\n\treal=127.0.0.1:{dovecot.imaps} masq\n"
        f'\tlogin="{LOGIN}"\n\tpasswd="wrong"\n'))  # fmt: skip
    assert [line[:2] for line in states(lines)] == [("negotiate:pop", True),
                                                    ("negotiate:imaps", False)]  # fmt: skip


@pytest.mark.parametrize(
    ("service", "greeting", "reason"),
    [("pop", b"-ERR too busy\r\n", "POP3 greeting: -ERR too busy"),
     ("imap", b"* BYE too busy\r\n", "IMAP greeting: * BYE too busy")],
)  # fmt: skip
async def test_a_refusing_greeting_is_down_and_leaves_nothing_open(
    service: str, greeting: bytes, reason: str
) -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
            await reader.read()  # until the check hangs up
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    async with server, no_leaks():
        check = SERVICES[service][0]
        target = Target("127.0.0.1", server.sockets[0].getsockname()[1])
        result = await check(target, spec(service))
    assert (result.ok, result.reason) == (False, reason)
