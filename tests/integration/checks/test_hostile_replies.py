"""Hostile servers on loopback: each reply that once crashed or stalled a check is now its
verdict, with a printable reason. Every check runs under a 30 s deadline that only catches
hangs (the bug being guarded against is a check that never returns)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

import pytest
from hostile import Script, hostile_server, http_reply, replies
from leaks import no_leaks

from pyldirectord.checks import simpletcp, smtp
from pyldirectord.checks.base import BODY_LIMIT, CheckResult, CheckSpec, Target
from pyldirectord.checks.http import HttpChecker
from pyldirectord.checks.registry import Checkers
from pyldirectord.core.checkplan import CheckPlan
from pyldirectord.core.health import ProbeResult
from pyldirectord.runtime.prober import Prober

DEADLINE = 30.0


async def within_deadline(check: Awaitable[CheckResult]) -> CheckResult:
    async with asyncio.timeout(DEADLINE):
        return await check


@pytest.fixture
async def http() -> AsyncIterator[HttpChecker]:
    async with HttpChecker() as checker:
        yield checker


def http_spec(receive: str = "") -> CheckSpec:
    return CheckSpec(service="http", negotiatetimeout=5, receive=receive)


class SmtpScript:
    """Greets with ``greeting`` and answers EHLO and QUIT as a server should."""

    def __init__(self, greeting: bytes) -> None:
        self.greeting = greeting

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(self.greeting)
        await writer.drain()
        while line := await reader.readline():
            if line.upper().startswith(b"EHLO"):
                writer.write(b"250 ok\r\n")
            elif line.upper().startswith(b"QUIT"):
                writer.write(b"221 bye\r\n")
                await writer.drain()
                return
            await writer.drain()


async def test_smtp_greeting_of_just_220_is_up() -> None:
    """``220\\r\\n`` has no text: the greeting's first line was an IndexError."""
    async with hostile_server(SmtpScript(b"220\r\n")) as port, no_leaks():
        result = await within_deadline(
            smtp.check(Target("127.0.0.1", port), CheckSpec(negotiatetimeout=5))
        )
    assert (result.ok, result.reason) == (True, "220")


async def test_smtp_bare_220_then_hang_up_is_down() -> None:
    async with hostile_server(replies(b"220\r\n", then_read=False)) as port:
        result = await within_deadline(
            smtp.check(Target("127.0.0.1", port), CheckSpec(negotiatetimeout=5))
        )
    assert not result.ok
    assert result.reason.startswith("SMTP")


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (b"http://[::1", "Location 'http://[::1' is invalid: Invalid IPv6 URL"),
        (b"http://a..b/", "500 cannot request 'http://a..b/'"),
    ],
)
async def test_http_redirect_to_an_unusable_url_is_down(
    http: HttpChecker, location: bytes, expected: str
) -> None:
    script = http_reply(b"HTTP/1.1 302 Found", b"Location: " + location + b"\r\n")
    async with hostile_server(script) as port:
        result = await within_deadline(http.check(Target("127.0.0.1", port), http_spec()))
    assert not result.ok
    assert expected in result.reason


@pytest.mark.parametrize(
    ("receive", "body"),
    [
        ("^[[:alpha:]]+ [[:digit:]]{3}$", b"status 200"),  # POSIX classes
        (r"\x{68}ello", b"hello"),  # Perl's braced hex escape
        (r"(?<word>al)ive \k<word>", b"alive al"),  # named group and backreference
        (r"a++live", b"aalive"),  # possessive quantifier
        (r"ok\Z", b"all ok\n"),  # Perl's \Z: before a final newline too
        (r"\e\[0m", b"\x1b[0m"),  # Perl's \e
    ],
)
async def test_perl_receive_patterns_match_as_in_perl(
    http: HttpChecker, receive: str, body: bytes
) -> None:
    async with hostile_server(http_reply(b"HTTP/1.1 200 OK", body=body)) as port:
        result = await within_deadline(http.check(Target("127.0.0.1", port), http_spec(receive)))
    assert (result.ok, result.reason) == (True, "200 OK")


async def test_perl_receive_pattern_that_does_not_match_is_down(http: HttpChecker) -> None:
    async with hostile_server(http_reply(b"HTTP/1.1 200 OK", body=b"status 2xx")) as port:
        spec = http_spec("^[[:alpha:]]+ [[:digit:]]{3}$")
        result = await within_deadline(http.check(Target("127.0.0.1", port), spec))
    assert not result.ok
    assert "not found in the body" in result.reason


@pytest.mark.parametrize("receive", ["(a+)+$", "^(a|aa)+$"])
async def test_catastrophic_receive_on_a_64_kb_body_is_down_not_a_stall(
    http: HttpChecker, receive: str
) -> None:
    """With re, ``(a+)+$`` against 64 KB of ``a`` never returned and froze every real."""
    body = b"a" * (BODY_LIMIT - 1) + b"!"
    async with hostile_server(http_reply(b"HTTP/1.1 200 OK", body=body)) as port:
        result = await within_deadline(http.check(Target("127.0.0.1", port), http_spec(receive)))
    assert not result.ok
    assert result.reason.startswith(f"receive {receive!r} ran over")


async def test_catastrophic_receive_in_simpletcp_is_down() -> None:
    spec = CheckSpec(service="simpletcp", negotiatetimeout=5, request="/x", receive="(a+)+$")
    line = b"a" * 60_000 + b"!\n"
    async with hostile_server(replies(line)) as port:
        result = await within_deadline(simpletcp.check(Target("127.0.0.1", port), spec))
    assert not result.ok
    assert "ran over" in result.reason


def plan_for(port: int, spec: CheckSpec) -> CheckPlan:
    target = Target("127.0.0.1", port, real_port=port)
    return CheckPlan(f"127.0.0.1:{port}", target, spec, None, (), 1.0)


async def probe_once(port: int, spec: CheckSpec) -> ProbeResult:
    async with Checkers() as checkers:
        prober = Prober(plan_for(port, spec), checkers, None)
        async with asyncio.timeout(DEADLINE):
            return await prober()


async def test_ansi_escapes_in_a_greeting_are_escaped_in_the_reason() -> None:
    greeting = b"220 \x1b[2J\x1b[31mowned\x07\r\n"
    async with hostile_server(SmtpScript(greeting)) as port:
        result = await probe_once(port, CheckSpec(service="smtp", negotiatetimeout=5))
    assert result.ok
    assert result.reason == "220 \\x1b[2J\\x1b[31mowned\\x07"


async def test_ansi_escapes_in_an_http_reason_phrase_are_escaped() -> None:
    script = http_reply(b"HTTP/1.1 503 \x1b]0;title\x07Busy")
    async with hostile_server(script) as port:
        result = await probe_once(port, http_spec())
    assert not result.ok
    assert "\x1b" not in result.reason and "\x07" not in result.reason


async def endless_lines(prefix: bytes, line: bytes) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if prefix.startswith(b"HTTP"):
            await reader.readuntil(b"\r\n\r\n")
        writer.write(prefix)
        for _ in range(1_000_000):  # about 100 MB; the check hangs up long before
            writer.write(line)
            await writer.drain()

    return script


async def test_an_endless_smtp_greeting_is_bounded_and_down() -> None:
    script = await endless_lines(b"", b"220-" + b"x" * 100 + b"\r\n")
    async with hostile_server(script) as port:
        result = await within_deadline(
            smtp.check(Target("127.0.0.1", port), CheckSpec(negotiatetimeout=10))
        )
    assert (result.ok, result.reason) == (False, "SMTP: Response too long")


async def test_endless_http_headers_are_bounded_and_down(http: HttpChecker) -> None:
    script = await endless_lines(b"HTTP/1.1 200 OK\r\n", b"X-Filler: " + b"v" * 100 + b"\r\n")
    async with hostile_server(script) as port:
        result = await within_deadline(http.check(Target("127.0.0.1", port), http_spec()))
    assert (result.ok, result.reason) == (
        False,
        "500 invalid HTTP response (Too many headers received)",
    )
