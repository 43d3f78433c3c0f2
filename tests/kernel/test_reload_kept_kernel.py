"""A running daemon keeps its config and table when a reload fails (issue 12), judged as
an operator would: the table as ipvsadm lists it, the daemon's log, the CLI's exit codes.

`checktype=on` keeps the reals up without servers, so only the reload is under test."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from director_rig import (
    DaemonLog,
    alive,
    cli,
    daemon_pid,
    table_snapshot,
    terminate,
    wait_until,
)

pytestmark = pytest.mark.kernel

KEPT = "virtual=10.0.3.100:80\n\treal=10.0.3.1:80 masq 3\n\tchecktype=on\n\tscheduler=rr\n"
ADDED = "virtual=10.0.3.101:80\n\treal=10.0.3.2:80 masq 1\n\tchecktype=on\n"


@pytest.fixture
def running(clean_table: None, tmp_path: Path) -> Iterator[tuple[Path, DaemonLog]]:
    config = tmp_path / "kept.cf"
    log = tmp_path / "ldirectord.log"
    config.write_text(f'logfile="{log}"\ncheckinterval=1\n{KEPT}')
    assert cli(config, "start").returncode == 0
    yield config, DaemonLog(log)
    if alive(pid := daemon_pid(config)):
        terminate(pid)


def wait_for_the_table(expected: dict[str, dict[str, int]]) -> None:
    wait_until("the table", lambda: table_snapshot() == expected)


BEFORE = {"TCP 10.0.3.100:80": {"10.0.3.1:80": 3}}


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        # the kernel refuses it: no module ip_vs_nosuch (a reload is all or nothing)
        (KEPT.replace("scheduler=rr", "scheduler=nosuch") + ADDED,
         "Reload failed, keeping the running configuration: IPVS refused the new table"),
        # accepted by the reference, refused by the parser now: it used to kill the daemon
        (KEPT.replace("masq 3", "masq 2147483648") + ADDED,
         "at line 4: weight must be in range 0..2147483647"),
    ],
)  # fmt: skip
def test_a_failed_reload_keeps_the_running_table(
    running: tuple[Path, DaemonLog], edit: str, why: str
) -> None:
    config, log = running
    wait_for_the_table(BEFORE)
    pid = daemon_pid(config)
    mark = log.mark()
    config.write_text(config.read_text().split("virtual=", 1)[0] + edit)
    assert cli(config, "reload").returncode == (2 if "weight" in why else 0)
    if "weight" in why:  # `reload` parses first, as the reference: SIGHUP it ourselves
        os.kill(pid, signal.SIGHUP)
    log.wait_for(mark, why)
    assert alive(pid)
    assert table_snapshot() == BEFORE
    print("\n".join(log.since(mark)))
    # a good config after the failed one is taken whole
    config.write_text(config.read_text().split("virtual=", 1)[0] + KEPT + ADDED)
    assert cli(config, "reload").returncode == 0
    wait_for_the_table({**BEFORE, "TCP 10.0.3.101:80": {"10.0.3.2:80": 1}})
