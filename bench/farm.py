"""The server farm for `make bench`: N reals as /32 addresses in one netns behind a veth.

    director (root netns) bench0 10.63.255.254  --veth--  eth0 in netns "farm"
                          route 10.64.0.0/16              10.64.0.1/32 ... one per real

One asyncio process (on uvloop where installed) bound to 0.0.0.0:80 in the farm answers every
real with HTTP 200, so the farm costs one process whatever N is. Blackholing a real removes
its address: the director's packets still reach the farm's MAC (the neighbour entry lives on)
and are dropped there silently, so a check sees a timeout, as with a dead host, not a refusal.

Run as a script, `python bench/farm.py serve COUNT_FILE`, it is the server (inside the farm
netns); it rewrites COUNT_FILE with the number of connections accepted, so the bench can count
the checks the directors really made.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import typing
from collections.abc import Iterable
from pathlib import Path

from pyldirectord.runtime import loops

NETNS = "farm"
DIRECTOR_SIDE = "10.63.255.254"
REAL_NET = "10.64.0.0/16"
PORT = 80
BODY = b"alive\n"
RESPONSE = (
    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
    b"Connection: close\r\n\r\n" + BODY
)


def real_address(index: int) -> str:
    """The index-th real: 10.64.X.Y, Y in 1..250, so no address ends in .0 or .255."""
    return f"10.64.{index // 250}.{index % 250 + 1}"


def addresses(count: int) -> list[str]:
    return [real_address(i) for i in range(count)]


def _run(*command: str, stdin: str | None = None) -> None:
    subprocess.run(command, input=stdin, text=True, check=True)


def build() -> None:
    _run("ip", "netns", "add", NETNS)
    _run("ip", "link", "add", "bench0", "type", "veth", "peer", "name", "eth0", "netns", NETNS)
    _run("ip", "-n", NETNS, "link", "set", "lo", "up")
    _run("ip", "-n", NETNS, "link", "set", "eth0", "up")
    _run("ip", "addr", "add", f"{DIRECTOR_SIDE}/32", "dev", "bench0")
    _run("ip", "link", "set", "bench0", "up")
    _run("ip", "route", "add", REAL_NET, "dev", "bench0")
    _run("ip", "-n", NETNS, "route", "add", f"{DIRECTOR_SIDE}/32", "dev", "eth0")
    # Thousands of checks every interval arrive at once at one listener.
    _run("ip", "netns", "exec", NETNS, "sysctl", "-qw", "net.core.somaxconn=65535",
         "net.ipv4.tcp_max_syn_backlog=65535")  # fmt: skip


def _batch(verb: str, reals: Iterable[str]) -> None:
    lines = "".join(f"addr {verb} {address}/32 dev eth0\n" for address in reals)
    if lines:
        _run("ip", "-n", NETNS, "-batch", "-", stdin=lines)


def add_reals(reals: Iterable[str]) -> None:
    _batch("add", reals)


def remove_reals(reals: Iterable[str]) -> None:
    _batch("del", reals)


def present_reals() -> set[str]:
    out = subprocess.run(["ip", "-n", NETNS, "-4", "-o", "addr", "show", "dev", "eth0"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return {line.split()[3].split("/")[0] for line in out.splitlines()}


def set_reals(count: int) -> None:
    """Exactly the first `count` reals present (a former run may have left others)."""
    wanted = set(addresses(count))
    present = present_reals()
    remove_reals(sorted(present - wanted))
    add_reals(sorted(wanted - present))


def teardown() -> None:
    subprocess.run(["ip", "netns", "del", NETNS], check=False)
    subprocess.run(["ip", "link", "del", "bench0"], check=False, capture_output=True)


class Server:
    """Starts the farm's listener and reads its connection counter."""

    def __init__(self, workdir: Path) -> None:
        (workdir / "farm").mkdir(parents=True, exist_ok=True)
        self.count_file = workdir / "farm" / "connections"
        command = ["ip", "netns", "exec", NETNS, sys.executable, __file__, "serve",
                   str(self.count_file)]  # fmt: skip
        self.process = subprocess.Popen(command, start_new_session=True)
        deadline = time.monotonic() + 30
        while not self.count_file.exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the farm server did not come up")
            time.sleep(0.05)

    def connections(self) -> int:
        return int(self.count_file.read_text() or 0)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


class Counter:
    def __init__(self) -> None:
        self.accepted = 0


class Answer(asyncio.Protocol):
    """HTTP 200 to any request, then close; a bare connect is just counted."""

    def __init__(self, counter: Counter) -> None:
        counter.accepted += 1
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport is a Transport without being asyncio's subclass.
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if b"\r\n\r\n" in data and self.transport is not None:
            self.transport.write(RESPONSE)
            self.transport.close()


async def serve(count_file: Path) -> None:
    counter = Counter()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Answer(counter), "0.0.0.0", PORT,
                                      backlog=65535, reuse_address=True)  # fmt: skip
    async with server:
        while True:
            partial = count_file.with_suffix(".new")
            partial.write_text(str(counter.accepted))
            os.replace(partial, count_file)
            await asyncio.sleep(0.2)


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"] or len(sys.argv) != 3:
        sys.exit("usage: farm.py serve COUNT_FILE")
    # On uvloop (C transports) where installed: the farm shares the sandbox's one vCPU with
    # the director under test, and every director gets the CPU it saves.
    loops.run(serve(Path(sys.argv[2])))
