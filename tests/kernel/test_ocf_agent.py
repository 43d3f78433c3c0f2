"""resource-agents' own conformance tool against the stock ocf:heartbeat:ldirectord agent,
with ``ldirectord=<pyldirectord>`` (decisions.md: no agent of our own), on real IPVS.

ocf-tester starts, monitors, re-starts, stops and re-stops the resource and checks every
exit code against the OCF rules; the agent itself parses pyldirectord's ``status`` output
and, for its stop fallback, finds the daemon with ``pgrep -f "BINARY CONFIG start"``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel
BINARY = str(Path(sys.executable).with_name("pyldirectord"))
AGENT = "/usr/lib/ocf/resource.d/heartbeat/ldirectord"
# checktype=on: the real is up without a probe; the service still goes into the kernel.
CONFIG = """checkinterval=1
logfile="{log}"
virtual=127.0.0.1:18080
    real=127.0.0.2:18080 masq 2
    checktype=on
    scheduler=rr
"""


def ipvs_listing() -> str:
    return subprocess.run(["ipvsadm", "-Ln"], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    subprocess.run(["ipvsadm", "-C"], check=True)
    path = tmp_path / "lvs.cf"
    path.write_text(CONFIG.format(log=tmp_path / "ldirectord.log"))
    yield path
    subprocess.run([BINARY, str(path), "stop"], capture_output=True, timeout=60, check=False)
    subprocess.run(["ipvsadm", "-C"], check=True)


def test_ocf_tester_passes_with_the_stock_agent(config: Path) -> None:
    result = subprocess.run(
        ["ocf-tester", "-n", "lvs-director", "-o", f"configfile={config}",
         "-o", f"ldirectord={BINARY}", AGENT],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{AGENT} passed all tests" in result.stdout
    # the last operation was a stop: cleanstop removed our service from the kernel
    assert "127.0.0.1:18080" not in ipvs_listing()


def test_monitor_sees_the_daemon_program_ipvs(config: Path) -> None:
    env = {"OCF_ROOT": "/usr/lib/ocf", "OCF_RESKEY_configfile": str(config),
           "OCF_RESKEY_ldirectord": BINARY, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}  # fmt: skip

    def agent(action: str) -> int:
        done = subprocess.run([AGENT, action], env=env | {"__OCF_ACTION": action},
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        print(action, done.returncode, done.stdout, done.stderr)
        return done.returncode

    assert agent("start") == 0
    assert agent("monitor") == 0
    listing = ipvs_listing()
    assert "TCP  127.0.0.1:18080 rr" in listing and "127.0.0.2:18080" in listing
    assert agent("stop") == 0
    assert agent("monitor") == 7
    assert "127.0.0.1:18080" not in ipvs_listing()
