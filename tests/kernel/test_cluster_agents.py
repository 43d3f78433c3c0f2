"""pyldirectord under the cluster managers that drive ldirectord, unchanged.

* Pacemaker: resource-agents' stock ``ocf:heartbeat:ldirectord`` with
  ``ldirectord=<pyldirectord>`` (``ocf-tester`` itself runs in test_ocf_agent.py): what its
  actions do to a checked farm, its ``pgrep`` stop fallback, and recovery after ``kill -9``.
* heartbeat v1: haresources ``ldirectord::ldirectord.cf`` runs
  ``/etc/ha.d/resource.d/ldirectord ldirectord.cf start|status|stop`` and resolves the config
  from /etc/ha.d. A private mount namespace puts a temp dir over /etc/ha.d, so the call is
  exactly heartbeat's and the host's /etc is never touched.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from director_rig import BINARY, VIP, alive, daemon_pid, table_snapshot, terminate, wait_until

from sandbox import topology

pytestmark = pytest.mark.kernel
AGENT = "/usr/lib/ocf/resource.d/heartbeat/ldirectord"
OCF_ROOT = "/usr/lib/ocf"
OCF_SUCCESS, OCF_NOT_RUNNING = 0, 7
SERVICE = f"TCP {VIP}:80"


def farm_config(lab: topology.Lab, log: Path) -> str:
    reals = "".join(f"    real={real.address}:80 masq 1\n" for real in lab.reals)
    return (
        f'checkinterval=1\nchecktimeout=1\nquiescent=yes\nlogfile="{log}"\n'
        f"virtual={VIP}:80\n{reals}    checktype=connect\n    scheduler=rr\n"
    )


def live(lab: topology.Lab) -> dict[str, int]:
    return {f"{real.address}:80": 1 for real in lab.reals}


@pytest.fixture
def farm(lab: topology.Lab, clean_table: None, tmp_path: Path) -> Iterator[Path]:
    for real in lab.reals:
        real.set_mode("ok")
    config = tmp_path / "lvs.cf"
    config.write_text(farm_config(lab, tmp_path / "ldirectord.log"))
    yield config
    if Path(f"/run/ldirectord.{config.name}.pid").exists():
        subprocess.run([BINARY, str(config), "stop"], capture_output=True, timeout=60,
                       check=False)  # fmt: skip
    print((tmp_path / "ldirectord.log").read_text())


# --- Pacemaker -------------------------------------------------------------------------------


def agent(action: str, config: Path) -> subprocess.CompletedProcess[str]:
    """The OCF agent as the cluster runs it: parameters in OCF_RESKEY_*."""
    env = dict(os.environ, OCF_ROOT=OCF_ROOT, OCF_RESOURCE_INSTANCE="lvs",
               OCF_RESKEY_ldirectord=BINARY, OCF_RESKEY_configfile=str(config),
               __OCF_ACTION=action)  # fmt: skip
    return subprocess.run([AGENT, action], env=env, capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip


def test_agent_actions_drive_the_director(lab: topology.Lab, farm: Path) -> None:
    assert agent("start", farm).returncode == OCF_SUCCESS
    took = wait_until("reals weighted", lambda: table_snapshot().get(SERVICE) == live(lab))
    print(f"OCF start: table programmed {took:.2f}s after the agent returned")
    pid = daemon_pid(farm)
    # The agent's fallback stop path finds the daemon by its command line.
    pgrep = subprocess.run(["pgrep", "-f", f"{BINARY} {farm} start"], capture_output=True,
                           text=True, check=False)  # fmt: skip
    assert pgrep.stdout.split() == [str(pid)]
    assert agent("monitor", farm).returncode == OCF_SUCCESS
    # A crashed director (kill -9): Pacemaker's monitor sees "not running" (stale pid file),
    # its recovery start adopts the table that kept serving meanwhile.
    terminate(pid, signal.SIGKILL)
    assert table_snapshot()[SERVICE] == live(lab)
    assert agent("monitor", farm).returncode == OCF_NOT_RUNNING
    assert agent("start", farm).returncode == OCF_SUCCESS
    assert daemon_pid(farm) != pid and alive(daemon_pid(farm))
    assert agent("monitor", farm).returncode == OCF_SUCCESS
    assert agent("stop", farm).returncode == OCF_SUCCESS
    assert SERVICE not in table_snapshot()


# --- heartbeat v1 ----------------------------------------------------------------------------


def heartbeat_says_running(output: str) -> bool:
    """heartbeat's ResourceManager judges a resource.d script's ``status`` by its text, with
    a shell ``case`` in this order: ``*[Nn][Oo][Tt]\\ *[Rr]unning*`` and ``*[Ss]topped*``
    mean stopped, then ``*[Rr]unning*|*OK*`` mean running; anything else is stopped."""
    if re.search(r"[Nn][Oo][Tt] .*[Rr]unning", output, re.S) or re.search(r"[Ss]topped", output):
        return False
    return bool(re.search(r"[Rr]unning|OK", output))


class PrivateHaDir:
    """A mount namespace where a temp dir is /etc/ha.d; commands run in it with nsenter."""

    def __init__(self, directory: Path) -> None:
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sleep", "300"]
        )
        wait_until("namespace ready", lambda: self._namespace() != self._own_namespace())
        self.run("mount", "--bind", str(directory), "/etc/ha.d").check_returncode()

    def _namespace(self) -> str:
        return os.readlink(f"/proc/{self.holder.pid}/ns/mnt")

    @staticmethod
    def _own_namespace() -> str:
        return os.readlink("/proc/self/ns/mnt")

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["nsenter", "-t", str(self.holder.pid), "-m", "--", *command],
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip

    def close(self) -> None:
        self.holder.kill()
        self.holder.wait(timeout=10)


def test_heartbeat_resource_script(lab: topology.Lab, clean_table: None, tmp_path: Path) -> None:
    ha_d = tmp_path / "ha.d"
    (ha_d / "resource.d").mkdir(parents=True)
    script = ha_d / "resource.d" / "ldirectord"
    script.symlink_to(BINARY)
    (ha_d / "ldirectord.cf").write_text(farm_config(lab, tmp_path / "ldirectord.log"))
    namespace = PrivateHaDir(ha_d)
    resource = "/etc/ha.d/resource.d/ldirectord"
    try:
        stopped = namespace.run(resource, "ldirectord.cf", "status")
        assert not heartbeat_says_running(stopped.stdout + stopped.stderr)
        assert namespace.run(resource, "ldirectord.cf", "start").returncode == 0
        took = wait_until("reals weighted", lambda: table_snapshot().get(SERVICE) == live(lab))
        print(f"heartbeat start: table programmed {took:.2f}s after the script returned")
        running = namespace.run(resource, "ldirectord.cf", "status")
        text = running.stdout + running.stderr
        assert heartbeat_says_running(text), text
        assert "ldirectord for /etc/ha.d/ldirectord.cf is running with pid:" in running.stderr
        # heartbeat may call start again on takeover: nothing happens, still one daemon.
        pid = int(Path("/run/ldirectord.ldirectord.cf.pid").read_text())
        assert namespace.run(resource, "ldirectord.cf", "start").returncode == 0
        assert int(Path("/run/ldirectord.ldirectord.cf.pid").read_text()) == pid
        assert namespace.run(resource, "ldirectord.cf", "stop").returncode == 0
        assert SERVICE not in table_snapshot() and not alive(pid)
        stopped = namespace.run(resource, "ldirectord.cf", "status")
        assert not heartbeat_says_running(stopped.stdout + stopped.stderr)
        assert "ldirectord is stopped for /etc/ha.d/ldirectord.cf" in stopped.stdout
    finally:
        namespace.run(resource, "ldirectord.cf", "stop")
        namespace.close()
        print((tmp_path / "ldirectord.log").read_text())


def test_agent_stops_a_daemon_whose_config_broke(lab: topology.Lab, farm: Path) -> None:
    """With a config that no longer parses, `status` exits 2 and the agent's stop falls back
    to ``pgrep -f "BINARY CONFIG start"``: SIGTERM, and at once SIGKILL if the daemon is still
    there. The daemon must be found and gone, so Pacemaker can move the resource."""
    assert agent("start", farm).returncode == OCF_SUCCESS
    wait_until("reals weighted", lambda: table_snapshot().get(SERVICE) == live(lab))
    pid = daemon_pid(farm)
    good = farm.read_text()
    farm.write_text(good + "virtual=oops\n")
    try:
        stopped = agent("stop", farm)
        print(stopped.stdout, stopped.stderr)
        assert stopped.returncode == OCF_SUCCESS
        wait_until("daemon gone", lambda: not alive(pid))
    finally:
        farm.write_text(good)
    # The agent sends SIGKILL right after SIGTERM, so the clean stop may not have run: the
    # table is whatever the daemon had, and the next start adopts it.
    print(f"after the agent's pgrep stop, table: {table_snapshot()}")
    assert agent("monitor", farm).returncode == OCF_NOT_RUNNING
