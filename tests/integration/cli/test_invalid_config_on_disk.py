"""A config the director cannot run never reaches "ready", and a typo on disk does not take
a running director's status and stop away (issue 12, decisions.md's first row).

The installed console script runs as the operator (and the stock OCF agent) runs it, with
the signal-waiting director body of ``lifecycle_hooks`` and the real config loader.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_rig import BINARY, Rig, make_rig, process_alive

AGENT = "/usr/lib/ocf/resource.d/heartbeat/ldirectord"
OCF_SUCCESS, OCF_ERR_GENERIC = 0, 1
VALID = "virtual=127.0.0.1:18080\n\treal=127.0.0.2:18080 masq 2\n\tchecktype=on\n"
# Accepted by the Perl ldirectord; the kernel's weight is a signed int.
TOO_HEAVY = "virtual=127.0.0.1:18080\n\treal=127.0.0.2:18080 masq 2147483648\n"
TYPO = "virtual=127.0.0.1:18080\n\treal=127.0.0.2:18080 masq 2\n\tchecktype=connnect\n"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = make_rig(tmp_path)
    yield rig
    rig.cleanup()


def test_start_refuses_a_weight_the_kernel_cannot_hold_before_ready(rig: Rig) -> None:
    config = rig.config("lvs.cf", TOO_HEAVY)
    result = rig.run(config, "start")
    assert result.returncode == 2
    assert result.stderr.endswith(f"reading file {config} at line 3: weight must be in range "
                                  "0..2147483647\n")  # fmt: skip
    assert result.stderr.startswith("Error [")
    assert not rig.pid_file("lvs.cf").exists()
    assert rig.event_lines() == []  # no director was ever started


def test_check_config_refuses_it_too(rig: Rig) -> None:
    config = rig.config("lvs.cf", TOO_HEAVY)
    result = rig.run("--check-config", config)
    assert result.returncode == 1
    assert result.stderr.startswith(f"{config}:3: error: weight must be in range 0..2147483647 "
                                    "(hint: 2147483648 is outside 0..2147483647)")  # fmt: skip


def agent(rig: Rig, config: str, action: str) -> int:
    env = rig.environ() | {
        "OCF_ROOT": "/usr/lib/ocf", "OCF_RESKEY_configfile": config,
        "OCF_RESKEY_ldirectord": BINARY, "__OCF_ACTION": action,
    }  # fmt: skip
    done = subprocess.run([AGENT, action], env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    print(action, done.returncode, done.stdout, done.stderr)
    return done.returncode


def test_a_typo_on_disk_keeps_status_and_stop_of_the_running_daemon(rig: Rig) -> None:
    config = rig.config("lvs.cf", VALID)
    assert agent(rig, config, "start") == OCF_SUCCESS
    pid = rig.daemon_pid("lvs.cf")
    Path(config).write_text(Path(config).read_text().replace(VALID, TYPO))

    status = rig.run(config, "status")
    assert status.returncode == 0
    lines = status.stderr.splitlines()
    assert lines[0].startswith("Error [") and lines[0].endswith(
        f"reading file {config} at line 4: checktype must be \"connect\", \"negotiate\", "
        "\"on\", \"off\", \"ping\", \"external\", \"external-perl\" or a positive number")
    assert lines[1] == (f"{config} is invalid; status acts on the daemon running with pid "
                        f"file {rig.pid_file('lvs.cf')}")  # fmt: skip
    assert lines[2] == f"ldirectord for {config} is running with pid: {pid}"
    # the stock agent's monitor: still running, so Pacemaker restarts nothing
    assert agent(rig, config, "monitor") == OCF_SUCCESS
    assert rig.run(config, "reload").returncode == 2  # a reload would read the bad file

    assert agent(rig, config, "stop") == OCF_SUCCESS  # through `BINARY CONFIG stop`
    assert not process_alive(pid)
    assert not rig.pid_file("lvs.cf").exists()
    assert rig.event_lines()[-1] == f"{pid} stopped"
    # with nothing running, the invalid file is the config error it always was
    assert rig.run(config, "status").returncode == 2
    assert rig.run(config, "stop").returncode == 2
