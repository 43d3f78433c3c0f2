"""Assert that checks leave nothing behind: no open descriptors, no tasks, no child processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from pyldirectord.checks.engine import engine_for


def open_fds() -> set[int]:
    # listdir's own descriptor for /proc/self/fd is in its listing: keep only those still open.
    listed = {int(name) for name in os.listdir("/proc/self/fd")}
    return {fd for fd in listed if os.path.exists(f"/proc/self/fd/{fd}")}


def child_pids(servers: frozenset[int] = frozenset()) -> set[int]:
    """Every live descendant's pid (grandchildren included: external checks run in a group),
    except the subtrees of ``servers``: a server's own workers come and go as it pleases."""
    me = str(os.getpid())
    parents: dict[str, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[entry] = fields[1]
    found: set[int] = set()
    frontier = {me}
    while frontier:
        frontier = {pid for pid, parent in parents.items()
                    if parent in frontier and int(pid) not in servers}  # fmt: skip
        found |= {int(pid) for pid in frontier}
    return found


def describe(fds: set[int]) -> list[str]:
    described = []
    for fd in sorted(fds):
        try:
            described.append(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
        except OSError:
            described.append(f"{fd} (closed meanwhile)")
    return described


async def first_connect() -> None:
    """One refused TCP connect on loopback (a bound port that does not listen)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", closed.getsockname()[1])
            writer.close()


@asynccontextmanager
async def no_leaks(settle: float = 5.0, servers: Iterable[int] = ()) -> AsyncIterator[None]:
    """Wrap the checks of a test; the servers it talks to must already be running (those that
    are our children are named in ``servers``)."""
    excluded = frozenset(servers)
    # The loop's check engine (its epoll set) lives as long as the loop, as the loop's own
    # selector does, and so does the spare descriptor uvloop opens on its first TCP connect:
    # both are made first, so that they are not counted as a check's leak.
    engine_for(asyncio.get_running_loop())
    await first_connect()
    fds, tasks, children = open_fds(), asyncio.all_tasks(), child_pids(excluded)
    yield
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle
    # Sockets closed by a check are closed at once; the server's side follows within a tick.
    while loop.time() < deadline:
        if open_fds() <= fds and asyncio.all_tasks() <= tasks and child_pids(excluded) <= children:
            return
        await asyncio.sleep(0.02)
    assert open_fds() - fds == set(), f"descriptors leaked: {describe(open_fds() - fds)}"
    assert asyncio.all_tasks() - tasks == set(), "tasks leaked"
    assert child_pids(excluded) - children == set(), "processes leaked"
