"""Graceful drain in the sandbox kernel (drain=N with quiescent=no): client connections held
open through the VIP; a real that fails goes to weight 0 and keeps them, and is removed once
they close, or once the bound passes with them still open. Each test prints an `e2e` line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from e2e_director import Director, active_connections, wait_until
from ipvsadm_text import live_weights

from sandbox import topology

pytestmark = pytest.mark.kernel
HOLD = """
import socket, sys
held = [socket.create_connection((sys.argv[1], 80), timeout=5) for _ in range(int(sys.argv[2]))]
print("connected", flush=True)
sys.stdin.read()  # held until the test closes our stdin
"""


@contextmanager
def held_connections(count: int) -> Iterator[subprocess.Popen[str]]:
    """``count`` idle TCP connections from the client netns to the VIP, open until exit."""
    process = subprocess.Popen(
        ["ip", "netns", "exec", "client", sys.executable, "-c", HOLD, topology.VIP, str(count)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stdout.readline() == "connected\n"
        yield process
    finally:
        if process.stdin is not None:
            process.stdin.close()
        process.wait(timeout=30)


@pytest.fixture
def lab_ok(lab: topology.Lab, clean_table: None) -> Iterator[topology.Lab]:
    for real in lab.reals:
        real.set_mode("ok")
    yield lab
    for real in lab.reals:
        real.set_mode("ok")


def start(lab: topology.Lab, directory: Path, drain: int) -> Director:
    reals = "".join(f"    real={r.address}:80 masq 1\n" for r in lab.reals)
    body = (f"virtual={topology.VIP}:80\n{reals}    service=http\n    request=\"/\"\n"
            "    receive=\"real\"\n    scheduler=rr\n")  # fmt: skip
    daemon = Director(directory, body, f"quiescent=no\ndrain={drain}\n")
    daemon.start()
    wait_until("all reals in", lambda: live_weights() == {f"{r.address}:80": 1
                                                          for r in lab.reals})  # fmt: skip
    return daemon


def test_a_failed_real_drains_until_its_connections_close(lab_ok: topology.Lab,
                                                          tmp_path: Path) -> None:
    daemon = start(lab_ok, tmp_path, drain=120)
    victim = f"{lab_ok.reals[1].address}:80"
    try:
        with held_connections(6) as client:
            wait_until("connections on the victim", lambda: active_connections()[victim] > 0)
            lab_ok.reals[1].set_mode("503")
            drained = wait_until("victim at weight 0", lambda: live_weights()[victim] == 0)
            # later rounds keep it there: its clients are still connected
            checks = lab_ok.reals[1].served()
            wait_until("two more checks", lambda: lab_ok.reals[1].served() >= checks + 2)
            assert live_weights()[victim] == 0 and active_connections()[victim] > 0
            assert client.poll() is None
        removed = wait_until("victim removed once its clients left",
                             lambda: victim not in live_weights())  # fmt: skip
    finally:
        daemon.stop()
    lines = daemon.transitions(victim)
    assert any("] Quiescent real server: " in line for line in lines)
    assert any("] Deleted real server: " in line for line in lines)
    print(f"e2e drain: weight 0 after {drained:.1f}s, removed {removed:.1f}s after the clients "
          "closed")


def test_the_drain_bound_removes_a_real_whose_connections_stay(lab_ok: topology.Lab,
                                                               tmp_path: Path) -> None:
    daemon = start(lab_ok, tmp_path, drain=3)
    victim = f"{lab_ok.reals[2].address}:80"
    try:
        with held_connections(6) as client:
            wait_until("connections on the victim", lambda: active_connections()[victim] > 0)
            lab_ok.reals[2].set_mode("503")
            wait_until("victim at weight 0", lambda: live_weights().get(victim) == 0)
            removed = wait_until("victim removed after the bound",
                                 lambda: victim not in live_weights())  # fmt: skip
            assert client.poll() is None  # its clients never left
    finally:
        daemon.stop()
    print(f"e2e drain bound: removed {removed:.1f}s after weight 0, connections still open")
