"""The whole product in the sandbox kernel: `pyldirectord CONFIG start` daemonises, checks
real HTTP servers in their netns, programs IPVS, and client traffic through the VIP follows.
Each scenario prints one line saying what it saw, so a failing CI log names the fault."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ipvsadm_text import live_weights

from sandbox import topology

pytestmark = pytest.mark.kernel
DEADLINE = 30.0
BINARY = str(Path(sys.executable).with_name("pyldirectord"))


def config_text(lab: topology.Lab, log: Path, extra: str = "") -> str:
    reals = "".join(f"    real={r.address}:80 masq {i + 1}\n" for i, r in enumerate(lab.reals))
    return (
        "checkinterval=1\nchecktimeout=1\nnegotiatetimeout=1\nquiescent=yes\n"
        f'logfile="{log}"\n{extra}'
        f"virtual={topology.VIP}:80\n{reals}"
        '    service=http\n    request="/"\n    receive="real"\n    scheduler=rr\n'
    )


def weights() -> dict[str, int]:
    return live_weights()


def wait_until(what: str, condition: Callable[[], bool]) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > DEADLINE:
            raise AssertionError(f"not within {DEADLINE:.0f}s: {what}; table {weights()}")
        time.sleep(0.05)
    return time.monotonic() - started


def cli(config: Path, action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BINARY, str(config), action], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def answers(requests: int = 9) -> Counter[str | None]:
    return Counter(topology.client_get(f"http://{topology.VIP}/") for _ in range(requests))


@pytest.fixture
def director(lab: topology.Lab, clean_table: None, tmp_path: Path) -> Iterator[Path]:
    for real in lab.reals:
        real.set_mode("ok")
    config = tmp_path / "lab.cf"
    config.write_text(config_text(lab, tmp_path / "ldirectord.log"))
    started = cli(config, "start")
    assert started.returncode == 0, started.stderr
    yield config
    cli(config, "stop")
    print((tmp_path / "ldirectord.log").read_text())


def test_start_status_traffic_failure_recovery_stop(lab: topology.Lab, director: Path) -> None:
    live = {f"{r.address}:80": i + 1 for i, r in enumerate(lab.reals)}
    converge = wait_until("all reals weighted", lambda: weights() == live)
    status = cli(director, "status")
    assert status.returncode == 0 and "is running with pid" in status.stderr
    assert answers() == {r.name: 3 for r in lab.reals}
    victim = lab.reals[1]
    victim.set_mode("503")
    detect = wait_until("503 real quiesced", lambda: weights()[f"{victim.address}:80"] == 0)
    assert victim.name not in answers()
    victim.set_mode("ok")
    recover = wait_until("real restored", lambda: weights() == live)
    print(f"e2e: converge {converge:.2f}s, detect 503 {detect:.2f}s, recover {recover:.2f}s")
    stopped = cli(director, "stop")
    assert stopped.returncode == 0
    assert weights() == {}  # cleanstop=yes (default) removes our virtual service
    assert cli(director, "status").returncode == 3
