"""workers=2 in the sandbox kernel: the real daemon checks through two worker processes and
programs the real IPVS table from their verdicts (docs/design.md, "Check workers").

Judged as an operator would: the table (ipvsadm), the daemon's log, the processes (ps), and
the OCF agent's `pgrep -f "BINARY CONFIG start"`, which must find the daemon alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from director_rig import (
    BINARY,
    VIP,
    DaemonLog,
    alive,
    cli,
    daemon_pid,
    table_snapshot,
    wait_until,
    weight_of,
)

from sandbox import faults, topology

pytestmark = pytest.mark.kernel
SERVICE = f"TCP {VIP}:80"


def workers_of(pid: int) -> list[int]:
    """The daemon's check workers: its children running pyldirectord.runtime.checkworker."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        if b"pyldirectord.runtime.checkworker" in cmdline:
            found.append(int(child))
    return found


@pytest.fixture
def daemon(lab: topology.Lab, tmp_path: Path) -> Iterator[tuple[Path, DaemonLog]]:
    subprocess.run(["ipvsadm", "-C"], check=True)
    for real in lab.reals:
        faults.clear_all(real)
    config = tmp_path / "workers.cf"
    reals = "".join(f"    real={real.address}:80 masq 1\n" for real in lab.reals)
    config.write_text(
        "checkinterval=1\nchecktimeout=1\nnegotiatetimeout=1\nquiescent=yes\nworkers=2\n"
        f'logfile="{tmp_path / "ldirectord.log"}"\n'
        f'virtual={VIP}:80\n{reals}    service=http\n    request="/"\n    receive="real"\n'
        "    scheduler=rr\n"
    )
    started = cli(config, "start")
    assert started.returncode == 0, started.stderr
    log = DaemonLog(tmp_path / "ldirectord.log")
    try:
        yield config, log
    finally:
        if Path("/run", f"ldirectord.{config.name}.pid").exists():
            cli(config, "stop")
        print("\n".join(log.lines()))
        for real in lab.reals:
            faults.clear_all(real)
        subprocess.run(["ipvsadm", "-C"], check=True)


def test_two_workers_quiesce_a_stopped_real_and_restore_it(
    lab: topology.Lab, daemon: tuple[Path, DaemonLog]
) -> None:
    config, log = daemon
    every = {f"{real.address}:80": 1 for real in lab.reals}
    wait_until("every real weighted", lambda: table_snapshot().get(SERVICE, {}) == every)
    pid = daemon_pid(config)
    workers = workers_of(pid)
    assert len(workers) == 2
    # The OCF agent's stop path looks for a stuck daemon by its argv: only the daemon has it.
    found = subprocess.run(["pgrep", "-f", f"{BINARY} {config} start"], capture_output=True,
                           text=True, check=False).stdout.split()  # fmt: skip
    assert found == [str(pid)]

    victim = lab.reals[1]
    where = f"{victim.address}:80"
    faults.KILLED.inject(victim)
    try:
        down = wait_until("stopped real at weight 0", lambda: weight_of(where) == 0)
    finally:
        faults.KILLED.clear(victim)
    up = wait_until("real weighted again", lambda: weight_of(where) == 1)
    print(f"workers=2: quiesced after {down:.2f}s, restored after {up:.2f}s")
    assert f"Quiescent real server: {victim.address}:80 ({VIP}:80) (Weight set to 0)" in \
        log.lines()  # fmt: skip

    # A worker killed with -9 is restarted; no real changes meanwhile.
    mark = log.mark()
    killed = workers[0]
    os.kill(killed, signal.SIGKILL)
    log.wait_for(mark, f"(pid {killed}) died (killed by SIGKILL); restarting it")
    wait_until("a new worker", lambda: len(set(workers_of(pid)) - {killed}) == 2)
    assert table_snapshot()[SERVICE] == every
    assert not [line for line in log.since(mark) if "real server:" in line]

    # stop: the daemon and every worker end.
    now = workers_of(pid)
    stopped = cli(config, "stop")
    assert stopped.returncode == 0, stopped.stderr
    wait_until("daemon and workers gone", lambda: not any(alive(p) for p in (pid, *now)))
