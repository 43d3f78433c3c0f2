"""connect and ping checks against loopback and an unreachable address in a test netns."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from leaks import no_leaks

from pyldirectord.checks import connect, ping
from pyldirectord.checks.base import CheckSpec, Target


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


@pytest.fixture
def listener6() -> Iterator[int]:
    with socket.socket(socket.AF_INET6) as sock:
        sock.bind(("::1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connect_up_v4_and_v6(listener: int, listener6: int) -> None:
    async with no_leaks():
        up = await connect.check(Target("127.0.0.1", listener), CheckSpec(checktimeout=2))
        up6 = await connect.check(Target("::1", listener6), CheckSpec(checktimeout=2))
    assert (up.ok, up.reason) == (True, "connected")
    assert (up6.ok, up6.reason) == (True, "connected")


async def test_connect_refused() -> None:
    async with no_leaks():
        result = await connect.check(Target("127.0.0.1", closed_port()), CheckSpec(checktimeout=2))
    assert (result.ok, result.reason) == (False, "Connection refused")


async def test_connect_without_a_check_port_fails() -> None:
    result = await connect.check(Target("127.0.0.1", 0), CheckSpec(checktimeout=2))
    assert (result.ok, result.reason) == (False, "no check port")


async def test_ping_loopback_v4_and_v6() -> None:
    async with no_leaks():
        up = await ping.check(Target("127.0.0.1", 0), CheckSpec(checktimeout=1))
        up6 = await ping.check(Target("::1", 0), CheckSpec(checktimeout=1))
    assert up.ok and up.reason.startswith("echo reply in ")
    assert up6.ok and up6.reason.startswith("echo reply in ")


NETNS = f"pyld-ping-{os.getpid()}"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def netns_unreachable() -> Iterator[str]:
    """A fresh netns with a veth pair: 10.99.0.1 and fd00:99::1 on one end, nothing on the other.

    Pings to .2 go out of the veth and nobody answers (not even ARP or ND). Only addresses
    inside the namespace this test made are ever targeted; the host's network is untouched.
    """
    if os.geteuid() != 0:
        pytest.fail("the ping tests need root (raw ICMP sockets and ip netns)")
    ip("netns", "add", NETNS)
    try:
        ip("-n", NETNS, "link", "set", "lo", "up")
        ip("-n", NETNS, "link", "add", "probe0", "type", "veth", "peer", "name", "silent0")
        ip("-n", NETNS, "addr", "add", "10.99.0.1/24", "dev", "probe0")
        ip("-n", NETNS, "addr", "add", "fd00:99::1/64", "dev", "probe0", "nodad")
        ip("-n", NETNS, "link", "set", "probe0", "up")
        ip("-n", NETNS, "link", "set", "silent0", "up")
        yield NETNS
    finally:
        ip("netns", "del", NETNS)


def run_in_netns(netns: str, code: str) -> str:
    """The check runs in a child Python inside the netns (a netns is per process)."""
    argv = ["ip", "netns", "exec", netns, sys.executable, "-c", "import asyncio\n" + code]
    # cwd=/ so the installed package is imported, not the source tree (no checks/ inside).
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd="/")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("address", ["10.99.0.2", "fd00:99::2"])
def test_ping_unreachable_is_down_within_the_timeout(netns_unreachable: str, address: str) -> None:
    code = (
        "from pyldirectord.checks import ping\n"
        "from pyldirectord.checks.base import CheckSpec, Target\n"
        "spec = CheckSpec(checktimeout=0.5, checkcount=2)\n"
        f"r = asyncio.run(ping.check(Target('{address}', 0), spec))\n"
        "print(r.ok, round(r.elapsed, 1), r.reason, sep='|')\n"
    )
    ok, elapsed, reason = run_in_netns(netns_unreachable, code).split("|")
    assert ok == "False"
    assert reason == "no echo reply (2 attempts of 0.5s)"
    assert 0.9 <= float(elapsed) < 6.0  # two 0.5 s attempts; generous upper bound


def test_the_netns_is_cleaned_up() -> None:
    assert NETNS not in subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A listener that never accepts, its backlog filled: the kernel drops further SYNs."""
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(socket.socket())
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = int(server.getsockname()[1])
        for _ in range(4):
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        yield port


async def test_connect_to_a_blackhole_times_out(full_backlog: int) -> None:
    async with no_leaks():
        result = await connect.check(Target("127.0.0.1", full_backlog), CheckSpec(checktimeout=0.5))
    assert (result.ok, result.reason) == (False, "timeout after 0.5s")
