"""simpletcp negotiate check against a real asyncio TCP server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from leaks import no_leaks

from pyldirectord.checks import simpletcp
from pyldirectord.checks.base import CheckSpec, Target


@pytest.fixture
async def echo_server() -> AsyncIterator[tuple[list[bytes], int]]:
    """Reads the request to EOF (the check half-closes), answers by it, then closes."""
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.read()
        received.append(request)
        if request == b"PING\nPING\n":
            writer.write(b"hello\r\n+PONG\r\n")
        elif request == b"FLOOD":
            writer.write(b"x" * (1024 * 1024) + b"\nPONG\n")
        elif request == b"TRICKLE":
            await trickle(writer)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def trickle(writer: asyncio.StreamWriter) -> None:
        """A byte every 50 ms, never a line; stops when the check hangs up (10 s at most)."""
        for _ in range(200):
            writer.write(b".")
            try:
                await writer.drain()
            except ConnectionError:
                return
            await asyncio.sleep(0.05)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield received, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def spec(request: str, receive: str, timeout: float = 2.0) -> CheckSpec:
    return CheckSpec(
        service="simpletcp", request=request, receive=receive, negotiatetimeout=timeout
    )


async def test_first_character_dropped_and_backslash_n_becomes_lf(
    echo_server: tuple[list[bytes], int],
) -> None:
    received, port = echo_server
    async with no_leaks():
        result = await simpletcp.check(
            Target("127.0.0.1", port), spec("/PING\\nPING\\n", "^\\+PONG")
        )
    assert (result.ok, result.reason) == (True, "receive matched")
    assert received == [b"PING\nPING\n"]


async def test_no_matching_line_is_down(echo_server: tuple[list[bytes], int]) -> None:
    _, port = echo_server
    result = await simpletcp.check(Target("127.0.0.1", port), spec("/PING\\nPING\\n", "^-ERR"))
    assert (result.ok, result.reason) == (False, "receive '^-ERR' not found in 2 line(s)")


async def test_empty_receive_matches_any_line_but_not_silence(
    echo_server: tuple[list[bytes], int],
) -> None:
    _, port = echo_server
    target = Target("127.0.0.1", port)
    answered = await simpletcp.check(target, spec("/PING\\nPING\\n", ""))
    silent = await simpletcp.check(target, spec("/QUIET", ""))
    assert (answered.ok, silent.ok, silent.reason) == (True, False, "no reply")


async def test_reply_is_bounded(echo_server: tuple[list[bytes], int]) -> None:
    _, port = echo_server
    async with no_leaks():
        result = await simpletcp.check(Target("127.0.0.1", port), spec("/FLOOD", "PONG"))
    # PONG lies past the 64 KiB the check reads.
    assert (result.ok, result.reason) == (False, "receive 'PONG' not found in 1 line(s)")


async def test_trickle_is_bounded_by_the_timeout(echo_server: tuple[list[bytes], int]) -> None:
    _, port = echo_server
    async with no_leaks():
        result = await simpletcp.check(
            Target("127.0.0.1", port), spec("/TRICKLE", "x", timeout=0.4)
        )
    assert (result.ok, result.reason) == (False, "timeout after 0.4s")


async def test_refused() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    result = await simpletcp.check(Target("127.0.0.1", port), spec("/PING", "PONG"))
    assert (result.ok, result.reason) == (False, "Connection refused")
