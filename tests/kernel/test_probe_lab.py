"""``pyldirectord --probe`` on the demo sample config, inside the sandbox where its addresses
exist: real HTTP servers in their network namespaces, one of them failing on demand."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import topology

pytestmark = pytest.mark.kernel
BINARY = str(Path(sys.executable).with_name("pyldirectord"))
DEMO = Path(__file__).resolve().parents[2] / "sample-configs" / "demo.cf"
LINE = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)\s+(UP|DOWN)\s+(\d+) ms\s+(.*)$")


def probe() -> tuple[int, list[tuple[str, ...]]]:
    result = subprocess.run([BINARY, "--probe", str(DEMO)], capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    print(result.stdout, result.stderr)
    rows = []
    for line in result.stdout.splitlines():
        match = LINE.match(line)
        assert match, f"unexpected line: {line!r}"
        rows.append(match.groups())
    return result.returncode, rows


def test_probe_demo_config_all_up_then_one_failing(lab: topology.Lab) -> None:
    for real in lab.reals:
        real.set_mode("ok")
    code, rows = probe()
    assert code == 0
    assert [(r[0], r[1], r[2], r[3], r[5]) for r in rows] == [
        (f"tcp:{topology.VIP}:80", f"{real.address}:80", "negotiate:http", "UP", "200 OK")
        for real in lab.reals
    ]
    victim = lab.reals[1]
    victim.set_mode("503")
    try:
        code, rows = probe()
    finally:
        victim.set_mode("ok")
    assert code == 1
    assert [r[3] for r in rows] == ["UP", "DOWN", "UP"]
    assert rows[1][1] == f"{victim.address}:80" and rows[1][5].startswith("503")
