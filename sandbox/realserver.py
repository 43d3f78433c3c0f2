"""A real server for the lab: answers HTTP with its own name; faults are set through a file.

``python -m sandbox.realserver NAME PORT MODEFILE`` serves ``NAME\\n`` on every address, over
HTTP on TCP ``PORT`` and to every datagram on UDP ``PORT`` (for UDP virtual services). The mode
file (re-read per request, so a test flips it without signals) holds one word:
``ok`` (default), ``503`` (Service Unavailable), ``nomatch`` (200 without the name), ``slow``
(answers after 5 s), or ``flap`` (every second request fails with 503).
After each HTTP request the count served so far is written to MODEFILE with the suffix
``.served``, so a test can tell how many health checks reached the server.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path
from typing import cast

from aiohttp import web

SLOW = 5.0
HOSTS = ("0.0.0.0", "::")


def mode_of(mode_file: Path) -> str:
    try:
        return mode_file.read_text().strip() or "ok"
    except OSError:
        return "ok"


def served_file(mode_file: Path) -> Path:
    return mode_file.with_suffix(".served")


def make_app(name: str, mode_file: Path) -> web.Application:
    served = 0

    async def answer(request: web.Request) -> web.Response:
        nonlocal served
        served += 1
        served_file(mode_file).write_text(f"{served}\n")
        mode = mode_of(mode_file)
        if mode == "503" or (mode == "flap" and served % 2 == 0):
            return web.Response(status=503, text="unavailable\n")
        if mode == "nomatch":
            return web.Response(text="nothing to see\n")
        if mode == "slow":
            await asyncio.sleep(SLOW)
        return web.Response(text=f"{name}\n")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


class NameEcho(asyncio.DatagramProtocol):
    """Answers every datagram with the server's name, so a UDP client sees which real it hit."""

    def __init__(self, name: str) -> None:
        self.name = name.encode() + b"\n"
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if self.transport is not None:
            self.transport.sendto(self.name, addr)


def udp_socket(host: str, port: int) -> socket.socket:
    # v6-only, as asyncio makes its TCP listeners, so that "::" and "0.0.0.0" share the port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((host, port))
    return sock


async def serve(name: str, port: int, mode_file: Path) -> None:
    runner = web.AppRunner(make_app(name, mode_file))
    await runner.setup()
    loop = asyncio.get_running_loop()
    for host in HOSTS:
        await web.TCPSite(runner, host, port).start()
        await loop.create_datagram_endpoint(lambda: NameEcho(name), sock=udp_socket(host, port))
    await asyncio.Event().wait()  # until killed: the lab stops its servers with SIGKILL


def main(argv: list[str]) -> None:
    name, port, mode_file = argv[0], int(argv[1]), Path(argv[2])
    asyncio.run(serve(name, port, mode_file))


if __name__ == "__main__":
    main(sys.argv[1:])
