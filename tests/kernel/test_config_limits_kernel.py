"""The parser's limits are the kernel's (issue 12): a config at every limit parses, and its
table applies to the sandbox kernel's IPVS and reads back unchanged, so a config that
`--check-config` calls valid is one the kernel holds."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_ipvs import assert_same

from pyldirectord.config.resolve import load
from pyldirectord.core.desired import desired_table, health_key
from pyldirectord.core.health import RealHealth, State
from pyldirectord.core.reconcile import diff
from pyldirectord.core.table import IpvsTable
from pyldirectord.kernel.ipvs import Ipvs

pytestmark = pytest.mark.kernel

AT_THE_LIMITS = """\
virtual=4294967295
\treal=10.0.2.1:65535 masq 2147483647 l:1 u:4294967295
\treal=10.0.2.2 gate 0 l:4294967295 u:4294967295
\tchecktype=on
\tscheduler=sh
\tschedflags=sh-fallback,sh-port
\tpersistent=4294967
\tnetmask=255.255.255.255
virtual=10.0.2.100:80
\treal=10.0.2.3:80 masq 1
\tchecktype=on
\tscheduler=wrr
\tschedflags=flag-1,flag-2,flag-3
\tpersistent=1
\tnetmask=0.0.0.0
virtual6=[fd00::100]:65535
\treal6=[fd00::3]:65535 masq 7
\tchecktype=on
\tpersistent=86400
\tnetmask=128
"""


@pytest.fixture
async def ipvs() -> AsyncIterator[Ipvs]:
    subprocess.run(["ipvsadm", "-C"], check=True)
    async with Ipvs() as adapter:
        yield adapter
    subprocess.run(["ipvsadm", "-C"], check=True)


async def test_a_config_at_every_limit_applies_and_reads_back(ipvs: Ipvs, tmp_path: Path) -> None:
    path = tmp_path / "limits.cf"
    path.write_text(AT_THE_LIMITS)
    config = load(str(path))
    up = RealHealth(State.UP)
    health = {health_key(v, r): up for v in config.virtuals for r in v.reals}
    wanted = desired_table(config, health, IpvsTable())
    await ipvs.apply(diff(await ipvs.read_table(), wanted, wanted.services))
    held = await ipvs.read_table()
    assert_same(held, wanted)
    assert diff(held, wanted, wanted.services) == []
    print(subprocess.run(["ipvsadm", "-Ln"], capture_output=True, text=True).stdout)


def test_start_without_cap_net_admin_fails_before_ready(tmp_path: Path) -> None:
    """The daemon reads the table before it reports ready: without the capability `start`
    says why and exits 1, instead of reporting ready and dying (issue 12)."""
    config = tmp_path / "lvs.cf"
    log = tmp_path / "ldirectord.log"
    config.write_text(f'logfile="{log}"\nvirtual=10.0.2.100:80\n\treal=10.0.2.3:80 masq\n')
    rundir = tmp_path / "run"
    rundir.mkdir()
    binary = str(Path(sys.executable).with_name("pyldirectord"))
    result = subprocess.run(
        ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin", binary, str(config),
         "start"], capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYLDIRECTORD_RUNDIR": str(rundir)},
    )  # fmt: skip
    print(result.stdout, result.stderr)
    assert result.returncode == 1
    assert "permission denied: IPVS needs CAP_NET_ADMIN" in result.stderr
    assert not (rundir / "ldirectord.lvs.cf.pid").exists()
