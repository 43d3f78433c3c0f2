"""``pyldirectord --plan`` against the real kernel table: what it prints is what start would do,
it changes nothing, and the printed ipvsadm commands, run as they are, need no further plan."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ipvsadm_text import ipvsadm

pytestmark = pytest.mark.kernel
BINARY = str(Path(sys.executable).with_name("pyldirectord"))
CONFIG = """quiescent=yes
virtual=192.0.2.80:80
    real=198.51.100.11:80 masq 3
    real=198.51.100.12:8080 gate
    fallback=127.0.0.1:80
    service=http
    scheduler=rr
    persistent=300
    netmask=255.255.255.0
virtual6=[2001:db8::80]:443
    real6=[2001:db8::11]:443 masq 2 l:10 u:100
    service=https
    scheduler=wlc
virtual=7
    real=198.51.100.13 gate
    checktype=off
"""
FULL_PLAN = [
    "ipvsadm -A -t 192.0.2.80:80 -s rr -p 300 -M 255.255.255.0",
    "ipvsadm -A -t [2001:db8::80]:443 -s wlc",
    "ipvsadm -A -f 7 -s wrr",
    "ipvsadm -a -t 192.0.2.80:80 -r 198.51.100.11:80 -m -w 3",
    "ipvsadm -a -t 192.0.2.80:80 -r 198.51.100.12:80 -g -w 1",
    "ipvsadm -a -t [2001:db8::80]:443 -r [2001:db8::11]:443 -m -w 2 -x 100 -y 10",
    "ipvsadm -a -f 7 -r 198.51.100.13:0 -g -w 0",
]
FOREIGN = "-u 203.0.113.9:53"


def plan(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BINARY, "--plan", str(config)], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def commands(out: str) -> list[str]:
    return [line.split("  #")[0] for line in out.splitlines() if not line.startswith("#")]


def listing() -> str:
    return ipvsadm("-L", "-n", "--thresholds")


@pytest.fixture
def config(tmp_path: Path, clean_table: None) -> Path:
    path = tmp_path / "plan.cf"
    path.write_text(f'logfile="{tmp_path}/ld.log"\n{CONFIG}')
    return path


def test_empty_table_full_plan_then_applied_nothing_left(config: Path) -> None:
    before = listing()
    first = plan(config)
    print(first.stdout, first.stderr)
    assert first.returncode == 0, first.stderr
    assert listing() == before, "--plan changed the table"
    assert sorted(commands(first.stdout)) == sorted(FULL_PLAN)
    for command in commands(first.stdout):
        subprocess.run(command, shell=True, check=True)
    again = plan(config)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"# nothing to do: the kernel's table already matches {config}\n"


def test_foreign_service_is_never_touched(config: Path) -> None:
    ipvsadm("-A", *FOREIGN.split(), "-s", "wlc")
    ipvsadm("-a", *FOREIGN.split(), "-r", "203.0.113.10:53", "-m", "-w", "5")
    before = listing()
    result = plan(config)
    print(result.stdout)
    assert result.returncode == 0, result.stderr
    assert listing() == before
    assert "203.0.113" not in result.stdout
    assert sorted(commands(result.stdout)) == sorted(FULL_PLAN)


def test_live_service_is_edited_and_stray_real_purged(config: Path) -> None:
    ipvsadm("-A", "-t", "192.0.2.80:80", "-s", "wlc")
    ipvsadm("-a", "-t", "192.0.2.80:80", "-r", "198.51.100.11:80", "-m", "-w", "3")
    ipvsadm("-a", "-t", "192.0.2.80:80", "-r", "198.51.100.99:80", "-m", "-w", "1")
    result = plan(config)
    print(result.stdout)
    out = commands(result.stdout)
    assert "ipvsadm -E -t 192.0.2.80:80 -s rr -p 300 -M 255.255.255.0" in out
    assert "ipvsadm -d -t 192.0.2.80:80 -r 198.51.100.99:80" in out
    assert not any("198.51.100.11" in line for line in out), "a real already right is kept"
    assert "Purged real server (start): 198.51.100.99:80 (192.0.2.80:80)" in result.stdout
