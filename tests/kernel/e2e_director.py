"""The running daemon and what the end-to-end tests read from the kernel and the client.

A `Director` is `pyldirectord CONFIG start` on a config written for the lab, with its log in
the test's directory; weights and per-real connection counts come from ipvsadm's text (not
our netlink code); client traffic goes through the VIP from the client netns.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from ipvsadm_text import ipvsadm, live_weights

from sandbox import topology

DEADLINE = 30.0  # only catches hangs: latencies are printed, never asserted
BINARY = str(Path(sys.executable).with_name("pyldirectord"))
FAST = "checkinterval=1\nchecktimeout=1\nnegotiatetimeout=1\n"
STATS_LINE = re.compile(r"^  -> (?P<endpoint>\S+)\s+(?P<conns>\d+)\s")
ACTIVE_LINE = re.compile(r"^  -> (?P<endpoint>\S+)\s+\S+\s+\d+\s+(?P<active>\d+)\s+\d+\s*$")


def wait_until(what: str, condition: Callable[[], bool], deadline: float = DEADLINE) -> float:
    """Seconds until ``condition`` held; fails naming ``what`` and the table after ``deadline``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > deadline:
            raise AssertionError(f"not within {deadline:.0f}s: {what}; table {live_weights()}")
        time.sleep(0.1)  # each poll spawns ipvsadm: the one vCPU is shared with the daemon
    return time.monotonic() - started


def connections() -> dict[str, int]:
    """``ip:port`` -> connections IPVS has scheduled to that real so far (``--stats``).
    Health checks go to the real directly, so this counts client connections only."""
    return {match["endpoint"]: int(match["conns"])
            for line in ipvsadm("-L", "-n", "--stats").splitlines()
            if (match := STATS_LINE.match(line))}  # fmt: skip


def active_connections() -> dict[str, int]:
    """``ip:port`` -> ActiveConn of that real (established client connections)."""
    return {match["endpoint"]: int(match["active"])
            for line in ipvsadm("-L", "-n").splitlines()
            if (match := ACTIVE_LINE.match(line))}  # fmt: skip


def answers(requests: int = 9, url: str = f"http://{topology.VIP}/",
            source: str | None = None) -> Counter[str | None]:
    """Who answered ``requests`` client GETs, one new connection each (None: a failure)."""
    return Counter(topology.client_get(url, source=source) for _ in range(requests))


class Director:
    """One `pyldirectord CONFIG start` daemon; `stop` also prints its log for the CI output."""

    def __init__(self, directory: Path, body: str, globals_: str = "") -> None:
        self.config = directory / "e2e.cf"
        self.log = directory / "ldirectord.log"
        self.config.write_text(f'{FAST}quiescent=yes\nlogfile="{self.log}"\n{globals_}{body}')

    def cli(self, action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([BINARY, str(self.config), action], capture_output=True,
                              text=True, timeout=60, check=False)  # fmt: skip

    def start(self) -> None:
        started = self.cli("start")
        assert started.returncode == 0, started.stderr

    def stop(self) -> None:
        self.cli("stop")
        print(self.log.read_text() if self.log.exists() else "(no log)")

    def transitions(self, real: str) -> list[str]:
        """The log's Quiescent/Restored/Deleted/Added lines about real ``ip:port``."""
        text = self.log.read_text() if self.log.exists() else ""
        return [line for line in text.splitlines()
                if f"real server: {real} " in line
                and re.search(r"\] (Quiescent|Restored|Deleted|Added) real", line)]  # fmt: skip
