"""A real server for the lab: answers HTTP with its own name; faults are set through a file.

``python -m sandbox.realserver NAME PORT MODEFILE`` serves ``NAME\\n`` on every address. The
mode file (re-read per request, so a test flips it without signals) holds one word:
``ok`` (default), ``503`` (Service Unavailable), ``nomatch`` (200 without the name), ``slow``
(answers after 5 s), or ``flap`` (every second request fails with 503).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp import web

SLOW = 5.0


def mode_of(mode_file: Path) -> str:
    try:
        return mode_file.read_text().strip() or "ok"
    except OSError:
        return "ok"


def make_app(name: str, mode_file: Path) -> web.Application:
    served = 0

    async def answer(request: web.Request) -> web.Response:
        nonlocal served
        served += 1
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


def main(argv: list[str]) -> None:
    name, port, mode_file = argv[0], int(argv[1]), Path(argv[2])
    web.run_app(make_app(name, mode_file), host=["0.0.0.0", "::"], port=port, print=None)


if __name__ == "__main__":
    main(sys.argv[1:])
