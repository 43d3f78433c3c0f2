"""A hostile server on loopback: each connection is handed to a script that sends raw bytes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def hostile_server(script: Script, host: str = "127.0.0.1") -> AsyncIterator[int]:
    """Serve ``script`` on an ephemeral port of ``host``; yields the port."""

    handlers: set[asyncio.Task[object]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await script(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the check hung up first: that is its business
        finally:
            handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, host, 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for task in list(handlers):  # a script still writing to a check that hung up
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


def replies(*chunks: bytes, then_read: bool = True) -> Script:
    """A script that sends ``chunks`` and then reads until the client closes."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
        if then_read:
            await reader.read()

    return script


def http_reply(status_line: bytes, headers: bytes = b"", body: bytes = b"") -> Script:
    """One raw HTTP/1.1 response to whatever request comes in."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        length = f"Content-Length: {len(body)}\r\n".encode()
        writer.write(status_line + b"\r\n" + headers + length + b"Connection: close\r\n\r\n")
        writer.write(body)
        await writer.drain()

    return script
