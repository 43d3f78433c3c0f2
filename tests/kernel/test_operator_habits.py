"""What operators of the reference do, done to the real daemon in the sandbox kernel (issue 13).

* `start` where ip_vs (and the scheduler) are not loaded: it loads them as ipvsadm would, or
  says why it cannot;
* a manual drain (`ipvsadm -e ... -w 0`) holds until the real's health changes or a reload,
  while a deleted real or service is still put back;
* a reload with another `logfile` writes to the new one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from director_rig import RUNDIR, VIP, DaemonLog, cli, table_snapshot, wait_until, weight_of

from pyldirectord.notify.statefile import DirectorState, read_state
from sandbox import topology

pytestmark = pytest.mark.kernel
TIMING = "checkinterval=1\nchecktimeout=1\nnegotiatetimeout=1\n"
SERVICE = f"TCP {VIP}:80"
MODULES = Path(os.environ.get("UML_MODROOT", "/nonexistent"), "lib/modules")


def scheduler_modules() -> list[str]:
    paths = MODULES.glob("*/kernel/net/netfilter/ipvs/ip_vs_*.ko")
    return sorted(path.name.removesuffix(".ko") for path in paths
                  if path.name not in ("ip_vs_ftp.ko", "ip_vs_pe_sip.ko"))  # fmt: skip


def farm(home: Path, lab: topology.Lab, scheduler: str = "wrr", log: str = "ldirectord.log") -> str:
    reals = "".join(f"    real={real.address}:80 masq {weight}\n"
                    for real, weight in zip(lab.reals, configured(lab).values(), strict=True))
    return (f'{TIMING}quiescent=yes\nlogfile="{home / log}"\nvirtual={VIP}:80\n{reals}'
            '    service=http\n    request="/"\n    receive="real"\n'
            f"    scheduler={scheduler}\n")  # fmt: skip


def configured(lab: topology.Lab) -> dict[str, int]:
    return {f"{real.address}:80": i + 1 for i, real in enumerate(lab.reals)}


@pytest.fixture
def ip_vs_unloaded(clean_table: None) -> Iterator[None]:
    """No ip_vs and no scheduler module in the kernel; all of them back afterwards."""
    modules = scheduler_modules()
    subprocess.run(["modprobe", "-r", "-a", *modules, "ip_vs"], check=True)
    try:
        yield
    finally:
        subprocess.run(["modprobe", "-a", "ip_vs", *modules], check=True)


def test_start_loads_ip_vs_and_the_scheduler(
    lab: topology.Lab, ip_vs_unloaded: None, tmp_path: Path
) -> None:
    assert not Path("/proc/net/ip_vs").exists() and not Path("/sys/module/ip_vs_wrr").exists()
    config = tmp_path / "habits.cf"
    config.write_text(farm(tmp_path, lab, scheduler="wrr"))
    started = cli(config, "start")
    try:
        assert started.returncode == 0, started.stderr
        took = wait_until("every real weighted",
                          lambda: table_snapshot() == {SERVICE: configured(lab)})  # fmt: skip
        print(f"start with ip_vs unloaded: table right after {took:.2f}s")
        assert Path("/sys/module/ip_vs_wrr").is_dir()
        listing = subprocess.run(["ipvsadm", "-L", "-n"], capture_output=True, text=True,
                                 check=True).stdout  # fmt: skip
        assert f"TCP  {VIP}:80 wrr" in listing
        assert not [line for line in DaemonLog(tmp_path / "ldirectord.log").lines()
                    if "cannot load" in line]  # fmt: skip
    finally:
        cli(config, "stop")


def test_start_says_why_when_ip_vs_cannot_load(
    lab: topology.Lab, ip_vs_unloaded: None, tmp_path: Path
) -> None:
    # The sandbox's own modprobe (without its modules directory) finds no ip_vs: a real
    # modprobe failure, as on a kernel built without IPVS.
    config = tmp_path / "habits.cf"
    config.write_text(farm(tmp_path, lab))
    env = {**os.environ, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    started = subprocess.run([str(Path(sys.executable).with_name("pyldirectord")), str(config),
                              "start"], capture_output=True, text=True, timeout=60, env=env,
                             check=False)  # fmt: skip
    assert started.returncode == 1
    release = os.uname().release
    assert started.stderr == (
        "IPVS is not available: the ip_vs kernel module is not loaded and `modprobe ip_vs` "
        f"failed: modprobe: FATAL: Module ip_vs not found in directory /lib/modules/{release}\n"
    )
    assert cli(config, "status").returncode == 3
    assert not Path("/proc/net/ip_vs").exists()  # nothing loaded, so nothing programmed


# --- a manual drain ---------------------------------------------------------------------------


def state_of(config: Path) -> DirectorState | None:
    return read_state(f"{RUNDIR}/pyldirectord.{config.name}.json")


def by_hand(config: Path, real: str) -> bool:
    state = state_of(config)
    return state is not None and any(
        r.by_hand for v in state.virtuals for r in v.reals if r.real == real)


def drain(real: str) -> None:
    subprocess.run(["ipvsadm", "-e", "-t", f"{VIP}:80", "-r", real, "-m", "-w", "0"], check=True)


def hold_for_passes(config: Path, real: str, passes: int) -> None:
    """The drain survives ``passes`` reconcile passes: each state file write follows a pass
    (at most one a second, the interval), and each must show the real still drained."""
    seen: set[float] = set()

    def one_more() -> bool:
        state = state_of(config)
        if state is not None and state.written_at not in seen:
            seen.add(state.written_at)
            assert weight_of(real, SERVICE) == 0, f"drain undone after {len(seen)} passes"
        return len(seen) > passes

    wait_until(f"{passes} passes with {real} drained", one_more)


@pytest.fixture
def farm_running(lab: topology.Lab, clean_table: None, tmp_path: Path) -> Iterator[Path]:
    for real in lab.reals:
        real.set_mode("ok")
    config = tmp_path / "habits.cf"
    config.write_text(farm(tmp_path, lab))
    started = cli(config, "start")
    assert started.returncode == 0, started.stderr
    wait_until("every real weighted", lambda: table_snapshot() == {SERVICE: configured(lab)})
    yield config
    cli(config, "stop")
    for real in lab.reals:
        real.set_mode("ok")
    for log in sorted(tmp_path.glob("*.log")):
        print(f"--- {log.name}\n{log.read_text()}")


def test_manual_drain_holds_until_health_changes_or_reload(
    lab: topology.Lab, farm_running: Path, tmp_path: Path
) -> None:
    config, log = farm_running, DaemonLog(tmp_path / "ldirectord.log")
    real = f"{lab.reals[0].address}:80"
    mark = log.mark()
    drain(real)
    wait_until("the drain seen as by hand", lambda: by_hand(config, real))
    hold_for_passes(config, real, 3)
    status = cli(config, "status")
    assert status.returncode == 0
    assert any(real in line and "drained by hand" in line for line in status.stdout.splitlines())
    assert [line for line in log.since(mark) if real in line] == [
        f"Kept edit by hand: ipvsadm -e -t {VIP}:80 -r {real} -m -w 0 "
        "(until the real's health changes or a reload)"]  # fmt: skip

    # The real fails and recovers: its new health decides the weight again.
    lab.reals[0].set_mode("503")
    wait_until("the failure seen", lambda: not by_hand(config, real))
    lab.reals[0].set_mode("ok")
    took = wait_until("weight restored on recovery", lambda: weight_of(real, SERVICE) == 1)
    print(f"health change ended the drain; restored after {took:.2f}s")

    # Drained again, then a reload (with another logfile): the director's weight is back,
    # and the reload's lines go to the new log.
    drain(real)
    wait_until("the second drain seen", lambda: by_hand(config, real))
    config.write_text(farm(tmp_path, lab, log="reloaded.log"))
    assert cli(config, "reload").returncode == 0
    took = wait_until("weight restored by the reload", lambda: weight_of(real, SERVICE) == 1)
    print(f"reload ended the drain; restored after {took:.2f}s")
    new_log = DaemonLog(tmp_path / "reloaded.log")
    wait_until("the restore logged in the new logfile", lambda: any(
        line.startswith(f"Restored real server: {real} ") for line in new_log.lines()))  # fmt: skip


def test_deleted_real_and_service_are_still_restored(
    lab: topology.Lab, farm_running: Path
) -> None:
    config = farm_running
    second, third = (f"{real.address}:80" for real in lab.reals[1:3])
    subprocess.run(["ipvsadm", "-d", "-t", f"{VIP}:80", "-r", second], check=True)
    wait_until("deleted real put back", lambda: weight_of(second, SERVICE) == 2)
    drain(third)
    wait_until("the drain seen", lambda: by_hand(config, third))
    subprocess.run(["ipvsadm", "-D", "-t", f"{VIP}:80"], check=True)
    took = wait_until("deleted service put back, at the director's weights",
                      lambda: table_snapshot() == {SERVICE: configured(lab)})  # fmt: skip
    print(f"deleted service restored after {took:.2f}s")
    wait_until("the edit forgotten in the state file", lambda: not by_hand(config, third))
