"""The daemon for real: start, status, reload, restart, stop of the installed console script,
with a director body that records the signals it receives (lifecycle_hooks)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_rig import BINARY, Rig, make_rig, process_alive, wait_until


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = make_rig(tmp_path)
    yield rig
    rig.cleanup()


def start_daemon(rig: Rig, config: str) -> int:
    result = rig.run(config, "start")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    # start returns only once the daemon holds its lock: status must see it at once
    return rig.daemon_pid(Path(config).name)


def test_start_status_reload_stop(rig: Rig) -> None:
    config = rig.config("lvs.cf")
    pid = start_daemon(rig, config)
    assert rig.pid_file("lvs.cf").read_text() == f"{pid}\n"

    status = rig.run(config, "status")
    assert status.returncode == 0
    assert status.stderr == f"ldirectord for {config} is running with pid: {pid}\n"
    wait_until(lambda: f"{pid} started" in rig.event_lines(), "director started")
    table = rig.run(config, "status").stdout.splitlines()
    assert table[0].split() == ["VIRTUAL", "REAL", "STATE", "WEIGHT", "LAST", "CHECK", "REASON"]
    assert table[1].split()[:4] == ["tcp:127.0.0.1:80", "127.0.0.1:80", "up", "1"]
    assert table[1].endswith("reloads=0")

    reload = rig.run(config, "reload")
    assert (reload.returncode, reload.stdout, reload.stderr) == (0, "", "")
    reloaded = f"{pid} reloaded virtuals=0"
    wait_until(lambda: reloaded in rig.event_lines(), "SIGHUP seen by the director")
    assert rig.run(config, "status").stdout.splitlines()[1].endswith("reloads=1")
    assert rig.run(config, "force-reload").returncode == 0
    wait_until(lambda: rig.event_lines().count(reloaded) == 2, "second reload")

    again = rig.run(config, "start")  # no second instance
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    assert rig.daemon_pid("lvs.cf") == pid

    stop = rig.run(config, "stop")
    assert (stop.returncode, stop.stdout, stop.stderr) == (0, "", "")
    # stop waited: the daemon is gone and its pid file removed when stop returns (quirk 2)
    assert not process_alive(pid)
    assert not rig.pid_file("lvs.cf").exists()
    assert rig.event_lines()[-1] == f"{pid} stopped"
    assert rig.run(config, "status").returncode == 3
    assert not (rig.rundir / "pyldirectord.lvs.cf.json").exists()

    log = rig.log.read_text()
    for line in (f"Invoking ldirectord invoked as: {BINARY} {config} start ",
                 "Starting Linux Director v1.186-ha as daemon",
                 f"[lvs.cf|{pid}] Reloading Linux Director Daemon config on signal",
                 f"[lvs.cf|{pid}] Linux Director Daemon terminated on signal: TERM"):  # fmt: skip
        assert line in log


def test_daemon_is_detached_and_keeps_its_argv(rig: Rig) -> None:
    config = rig.config("lvs.cf")
    pid = start_daemon(rig, config)
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    # the interpreter of the console script comes first, then exactly BINARY CONFIG start
    assert [word.decode() for word in cmdline[-3:]] == [BINARY, config, "start"]
    assert len(cmdline) == 4
    # the OCF agent's stop path finds the daemon with this very pattern
    pgrep = subprocess.run(["pgrep", "-f", f"{BINARY} {config} start"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert pgrep.stdout.split() == [str(pid)]
    # setsid then a second fork: a session of its own, which it does not lead, so it can
    # never acquire a controlling terminal
    assert os.getsid(pid) not in (os.getsid(0), pid)
    assert os.readlink(f"/proc/{pid}/cwd") == "/"
    for fd in (0, 1, 2):
        assert os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null"
    assert rig.run(config, "stop").returncode == 0


def test_bad_config_status_leaves_running_daemon_alone(rig: Rig) -> None:
    """Quirk 1 fixed: exit 2, but the daemon's pid file stays and the daemon stays visible;
    `status` (and `stop`, see test_invalid_config_on_disk) act on the running daemon
    (decisions.md), so status exits 0 here."""
    config = rig.config("lvs.cf")
    pid = start_daemon(rig, config)
    rig.config("lvs.cf", "checktimeout=3\nbroken line\n")
    assert rig.run(config, "status").returncode == 0
    for action in ("reload", "restart"):
        assert rig.run(config, action).returncode == 2
    assert rig.pid_file("lvs.cf").read_text() == f"{pid}\n"
    assert process_alive(pid)
    rig.config("lvs.cf")
    assert rig.run(config, "status").returncode == 0
    assert rig.run(config, "stop").returncode == 0


def test_restart_replaces_the_daemon(rig: Rig) -> None:
    config = rig.config("lvs.cf")
    old = start_daemon(rig, config)
    for action in ("restart", "try-restart"):
        result = rig.run(config, action)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        new = rig.daemon_pid("lvs.cf")
        assert new != old and not process_alive(old)
        # the new daemon still shows `BINARY CONFIG start`, never `... restart`
        cmdline = Path(f"/proc/{new}/cmdline").read_bytes().decode().split("\0")[:-1]
        assert cmdline[1:] == [BINARY, config, "start"]
        assert f"{old} stopped" in rig.event_lines()
        old = new
    assert rig.run(config, "stop").returncode == 0


def test_restart_when_stopped_starts(rig: Rig) -> None:
    config = rig.config("lvs.cf")
    assert rig.run(config, "restart").returncode == 0
    assert rig.run(config, "status").returncode == 0
    assert rig.run(config, "stop").returncode == 0


def test_stale_pid_file_is_replaced_by_start(rig: Rig) -> None:
    config = rig.config("lvs.cf")
    rig.pid_file("lvs.cf").write_text("999999\n")
    pid = start_daemon(rig, config)
    assert rig.pid_file("lvs.cf").read_text() == f"{pid}\n"
    assert rig.run(config, "stop").returncode == 0


def test_daemon_killed_hard_leaves_a_stale_pid_file(rig: Rig) -> None:
    config = rig.config("lvs.cf")
    pid = start_daemon(rig, config)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not process_alive(pid), "daemon killed")
    status = rig.run(config, "status")
    assert status.returncode == 1
    assert "stale pid file" in status.stderr
    assert status.stdout == f"ldirectord is stopped for {config}\n"


def test_foreground_instance(rig: Rig) -> None:
    """-d: foreground, no pid file, invisible to status (the reference's behaviour), but it
    holds the instance lock, so a daemon for the same config refuses to start beside it."""
    config = rig.config("lvs.cf")
    process = rig.popen("-d", config, "start")
    wait_until(lambda: f"{process.pid} started" in rig.event_lines(), "foreground director")
    assert not rig.pid_file("lvs.cf").exists()
    assert rig.run(config, "status").returncode == 3
    refused = rig.run(config, "start")
    assert refused.returncode == 1
    assert refused.stderr == (f"ldirectord for {config} is already running in the foreground "
                              f"with pid: {process.pid}\n")  # fmt: skip
    assert not rig.pid_file("lvs.cf").exists()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert f"Starting Linux Director v1.186-ha with pid: {process.pid}\n" in stderr
    assert "Linux Director Daemon terminated on signal: INT\n" in stderr
    assert stderr.endswith("Exiting with exit_status 0: "
                           "Linux Director Daemon terminated on signal: INT\n")  # fmt: skip


def test_foreground_never_touches_a_daemons_pid_file(rig: Rig) -> None:
    """Quirk 37 fixed; and `-d start` beside a daemon exits 0 at once, as the reference."""
    config = rig.config("lvs.cf")
    pid = start_daemon(rig, config)
    result = rig.run("-d", config, "start")
    assert result.returncode == 0
    assert rig.pid_file("lvs.cf").read_text() == f"{pid}\n"
    assert rig.run(config, "stop").returncode == 0


def test_supervised_runs_in_foreground_without_pid_file(rig: Rig) -> None:
    config = rig.config("lvs.cf", "supervised=yes\n")
    process = rig.popen(config, "start")
    wait_until(lambda: f"{process.pid} started" in rig.event_lines(), "supervised director")
    assert not rig.pid_file("lvs.cf").exists()
    process.terminate()
    process.communicate(timeout=30)
    assert process.returncode == 0
    assert f"Starting Linux Director v1.186-ha with pid: {process.pid}" in rig.log.read_text()


def test_execute_sub_instances_follow_the_main_one(rig: Rig) -> None:
    sub = rig.config("sub.cf")
    main = rig.config("main.cf", f"execute={sub}\n")
    main_pid = start_daemon(rig, main)
    wait_until(lambda: rig.run(sub, "status").returncode == 0, "sub-instance started")
    sub_pid = rig.daemon_pid("sub.cf")
    status = rig.run(main, "status")
    assert status.returncode == 0
    assert status.stderr == (f"ldirectord for {main} is running with pid: {main_pid}\n"
                             f"ldirectord for {sub} is running with pid: {sub_pid}\n")  # fmt: skip
    assert rig.run(main, "stop").returncode == 0
    assert not process_alive(sub_pid) and not rig.pid_file("sub.cf").exists()


def test_heartbeat_reads_running_and_stopped(rig: Rig) -> None:
    """heartbeat v1 runs `ldirectord ldirectord.cf status` and reads its text (2>&1)."""
    rig.config("ldirectord.cf")

    def status_text() -> str:
        result = rig.run("ldirectord.cf", "status", cwd=rig.root)
        return result.stdout + result.stderr

    # heartbeat: "running" or "OK" when active, neither of them when not
    stopped = status_text()
    assert "stopped" in stopped and "running" not in stopped and "OK" not in stopped
    assert rig.run("ldirectord.cf", "start", cwd=rig.root).returncode == 0
    wait_until(lambda: len(rig.event_lines()) > 0, "director started")
    text = status_text()
    assert "running" in text and "stopped" not in text
    assert rig.run("ldirectord.cf", "stop", cwd=rig.root).returncode == 0
    assert "stopped" in status_text()


OCF_AGENT = "/usr/lib/ocf/resource.d/heartbeat/ldirectord"


def test_stock_ocf_agent_drives_the_cli(rig: Rig) -> None:
    """ocf:heartbeat:ldirectord with ldirectord=<pyldirectord>: start, monitor, stop."""
    config = rig.config("lvs.cf")
    env = rig.environ() | {"OCF_ROOT": "/usr/lib/ocf", "OCF_RESKEY_configfile": config,
                           "OCF_RESKEY_ldirectord": BINARY}  # fmt: skip

    def agent(action: str) -> int:
        result = subprocess.run([OCF_AGENT, action], env=env | {"__OCF_ACTION": action},
                                capture_output=True, text=True, timeout=90)  # fmt: skip
        print(action, result.returncode, result.stdout, result.stderr)
        return result.returncode

    assert agent("monitor") == 7  # OCF_NOT_RUNNING
    assert agent("start") == 0
    assert agent("monitor") == 0
    assert agent("start") == 0  # already running
    assert agent("stop") == 0
    assert agent("monitor") == 7
    assert agent("stop") == 0


def test_heartbeat_resource_d_link(rig: Rig) -> None:
    """contrib/heartbeat: /etc/ha.d/resource.d/ldirectord as a link to pyldirectord."""
    resource_d = rig.root / "resource.d"
    resource_d.mkdir()
    link = resource_d / "ldirectord"
    link.symlink_to(BINARY)
    config = rig.config("lvs.cf")

    def run(action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(link), config, action], env=rig.environ(),
                              capture_output=True, text=True, timeout=90)  # fmt: skip

    assert run("start").returncode == 0
    rig.daemon_pid("lvs.cf")
    status = run("status")
    assert "running" in status.stdout + status.stderr
    assert run("stop").returncode == 0
    assert "stopped" in run("status").stdout


def test_start_without_a_usable_run_directory(rig: Rig) -> None:
    config = rig.config("lvs.cf")
    rig.rundir.rmdir()
    result = rig.run(config, "start")
    assert result.returncode == 1
    assert result.stderr == f"Can not open {rig.pid_file('lvs.cf')}\n"
    assert rig.event_lines() == []


def test_start_reports_a_director_that_cannot_be_built(rig: Rig) -> None:
    """The daemon builds its director before it reports ready: `start` can say why not."""
    config = rig.config("lvs.cf")
    fails = {"PYLDIRECTORD_TEST_DIRECTOR_FAILS": "ip_vs module not loaded"}
    result = rig.run(config, "start", extra=fails)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "ip_vs module not loaded\n"
    assert not rig.pid_file("lvs.cf").exists()
    assert rig.run(config, "status").returncode == 3
    foreground = rig.run("-d", config, "start", extra=fails)
    assert foreground.returncode == 1
    assert "ip_vs module not loaded\n" in foreground.stderr


def test_reload_rereads_the_config_and_survives_a_broken_one(rig: Rig) -> None:
    config = rig.config("lvs.cf")
    pid = start_daemon(rig, config)
    wait_until(lambda: f"{pid} started" in rig.event_lines(), "director started")
    rig.config("lvs.cf", "virtual=127.0.0.1:80\n    real=127.0.0.2:80 gate\n    bogus=1\n")
    os.kill(pid, signal.SIGHUP)  # the `reload` action would refuse: it parses the config too
    error = re.compile(rf"\[lvs.cf\|{pid}\] Error \[{pid}\] reading file .* at line 4: ")
    wait_until(lambda: any(error.match(line) for line in rig.log_lines()), "reload error logged")
    assert process_alive(pid) and not any("reloaded" in e for e in rig.event_lines())

    sub = rig.config("sub.cf")
    rig.config("lvs.cf", f"execute={sub}\nvirtual=127.0.0.1:80\n    real=127.0.0.2:80 gate\n")
    assert rig.run(config, "reload").returncode == 0
    wait_until(lambda: f"{pid} reloaded virtuals=1" in rig.event_lines(), "good reload")
    # a new execute= entry is started by the reload (spec 3.10 step 3)
    wait_until(lambda: rig.run(sub, "status").returncode == 0, "sub-instance started")
    sub_pid = rig.daemon_pid("sub.cf")
    assert rig.run(config, "stop").returncode == 0
    assert not process_alive(sub_pid)  # and stopped with the main instance


def test_foreground_without_a_usable_run_directory(rig: Rig) -> None:
    """-d needs no run directory, as in the reference; only the single-instance guard goes."""
    config = rig.config("lvs.cf")
    rig.rundir.rmdir()
    process = rig.popen("-d", config, "start")
    wait_until(lambda: f"{process.pid} started" in rig.event_lines(), "foreground director")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "running without the single-instance lock\n" in stderr
    assert "Linux Director Daemon terminated on signal: TERM\n" in stderr


def test_a_bug_in_the_running_director_is_logged_cleaned_up_and_exits(rig: Rig) -> None:
    """Never silently: the traceback is logged, the director's stop (cleanup) runs, and the
    daemon exits, so a cluster manager's next monitor sees it gone."""
    config = rig.config("lvs.cf")
    result = rig.run(config, "start", extra={"PYLDIRECTORD_TEST_START_BUG": "bookkeeping"})
    assert result.returncode == 0  # it was ready: the bug came after
    wait_until(lambda: any(e.endswith(" stopped") for e in rig.event_lines()), "cleanup ran")
    wait_until(lambda: rig.run(config, "status").returncode == 3, "daemon gone")
    lines = rig.log_lines()
    assert any(
        line.endswith("Internal error in the director; it cleans up and exits (logged once)")
        for line in lines
    )
    assert any(line.endswith("Traceback (most recent call last):") for line in lines)
    assert any(line.endswith("KeyError: 'bookkeeping'") for line in lines)
    assert any("director failed: KeyError('bookkeeping')" in line for line in lines)
