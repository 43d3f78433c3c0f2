"""The director's promises (issue 5), kept by the real daemon in the sandbox kernel.

Three daemons, each shared by the scenarios that need its config (module fixtures keep the
file short on one vCPU): a quiescent farm with maintenancedir and mail alerts, a
non-quiescent farm with a fallback and cleanstop=no, and a farm that is reloaded, edited on
disk and killed with -9. Each scenario prints the latency it saw; none asserts timing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from director_rig import (
    RUNDIR,
    VIP,
    DaemonLog,
    SmtpSink,
    alive,
    cli,
    daemon_pid,
    plug,
    recorded,
    recording_script,
    table_snapshot,
    terminate,
    unplug,
    wait_until,
    weight_of,
)

from pyldirectord.core.alertpolicy import BATCH_WINDOW
from pyldirectord.notify.statefile import read_state
from sandbox import topology

pytestmark = pytest.mark.kernel
HTTP_CHECK = '    service=http\n    request="/"\n    receive="real"\n    scheduler=rr\n'
TIMING = "checkinterval=1\nchecktimeout=1\nnegotiatetimeout=1\n"
SERVICE = f"TCP {VIP}:80"


def virtual(port: int, reals: list[tuple[topology.Real, int]]) -> str:
    lines = "".join(f"    real={real.address}:80 masq {weight}\n" for real, weight in reals)
    return f"virtual={VIP}:{port}\n{lines}{HTTP_CHECK}"


def start(config: Path, text: str) -> DaemonLog:
    config.write_text(text)
    started = cli(config, "start")
    assert started.returncode == 0, started.stderr
    return DaemonLog(config.parent / "ldirectord.log")


def healthy(lab: topology.Lab) -> None:
    for real in lab.reals:
        plug(real)
        real.set_mode("ok")


def retire(config: Path, log: DaemonLog) -> None:
    """Stop the daemon if a scenario left it running; show its log either way."""
    if Path(RUNDIR, f"ldirectord.{config.name}.pid").exists():
        cli(config, "stop")
    print("\n".join(log.lines()))


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    yield sink
    sink.close()


# --- a quiescent farm: kill, maintenance, mail, SIGTERM with cleanstop=yes ---------------------


@pytest.fixture(scope="class")
def quiescent(
    lab: topology.Lab, smtp: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, DaemonLog]]:
    subprocess.run(["ipvsadm", "-C"], check=True)
    healthy(lab)
    home = tmp_path_factory.mktemp("quiescent")
    (home / "maintenance").mkdir()
    config = home / "quiescent.cf"
    text = (f'{TIMING}quiescent=yes\nlogfile="{home / "ldirectord.log"}"\n'
            f"maintenancedir={home / 'maintenance'}\n"
            f"emailalert=ops@example.org\nsmtp=127.0.0.1:{smtp.port}\n"
            + virtual(80, [(real, 1) for real in lab.reals]))  # fmt: skip
    log = start(config, text)
    wait_until("every real weighted", lambda: table_snapshot().get(SERVICE, {}) == {
        f"{real.address}:80": 1 for real in lab.reals})  # fmt: skip
    yield config, log
    retire(config, log)
    healthy(lab)
    subprocess.run(["ipvsadm", "-C"], check=True)


class TestQuiescentFarm:
    """quiescent=yes, maintenancedir, mail alerts; ends with SIGTERM and cleanstop=yes."""

    def test_killed_real_is_quiesced_then_restored(
        self, lab: topology.Lab, quiescent: tuple[Path, DaemonLog]
    ) -> None:
        victim = f"{lab.reals[1].address}:80"
        unplug(lab.reals[1])
        try:
            down = wait_until("dead real at weight 0", lambda: weight_of(victim) == 0)
        finally:
            plug(lab.reals[1])
        up = wait_until("real weighted again", lambda: weight_of(victim) == 1)
        print(f"address removed: quiesced after {down:.2f}s, restored after {up:.2f}s")
        others = {f"{real.address}:80" for real in lab.reals} - {victim}
        assert all(weight_of(real) == 1 for real in others)

    def test_quiescent_alert_is_mailed_with_the_reference_text(
        self, lab: topology.Lab, quiescent: tuple[Path, DaemonLog], smtp: SmtpSink
    ) -> None:
        wait_until("every real weighted", lambda: set(table_snapshot()[SERVICE].values()) == {1})
        # A change alone in its batching window is mailed with the reference's own subject: let
        # the window of the previous scenario's changes close first.
        time.sleep(BATCH_WINDOW + 0.5)
        victim = lab.reals[2]
        subject = f"Quiescent real server: {victim.address}:80 ({VIP}:80) (Weight set to 0)"
        victim.set_mode("503")
        try:
            mail = smtp.mail_about(subject)
        finally:
            victim.set_mode("ok")
        headers, _, body = mail.text.partition("\n\n")
        assert f"Subject: {subject}" in headers.splitlines()
        assert "To: ops@example.org" in headers.splitlines()
        assert mail.rcpt_tos == ("ops@example.org",)
        assert body == (f"ldirectord host: {socket.gethostname()}\nLog-Message: {subject}\n"
                        "Daemon-Status: running\n")  # fmt: skip
        wait_until("real weighted again", lambda: weight_of(f"{victim.address}:80") == 1)

    def test_maintenancedir_file_quiesces_its_real(
        self, lab: topology.Lab, quiescent: tuple[Path, DaemonLog]
    ) -> None:
        config, log = quiescent
        real = f"{lab.reals[0].address}:80"
        flag = config.parent / "maintenance" / real
        mark = log.mark()
        flag.touch()
        try:
            drained = wait_until("real in maintenance at weight 0", lambda: weight_of(real) == 0)
        finally:
            flag.unlink()
        back = wait_until("real back from maintenance", lambda: weight_of(real) == 1)
        print(f"maintenancedir: drained after {drained:.2f}s, back after {back:.2f}s")
        assert f"Quiescent real server: {real} ({VIP}:80) (Weight set to 0)" in log.since(mark)
        assert f"Restored real server: {real} ({VIP}:80) (Weight set to 1)" in log.since(mark)

    def test_sigterm_with_cleanstop_removes_the_virtual(
        self, quiescent: tuple[Path, DaemonLog]
    ) -> None:
        config, log = quiescent
        pid = daemon_pid(config)
        took = terminate(pid)
        print(f"SIGTERM, cleanstop=yes: gone after {took:.2f}s")
        assert SERVICE not in table_snapshot()
        assert f"Purged virtual server (stop): {VIP}:80" in log.lines()
        assert "Linux Director Daemon terminated on signal: TERM" in log.lines()
        assert cli(config, "status").returncode == 3


# --- a non-quiescent farm with a fallback: removal, fallback, SIGTERM with cleanstop=no ------

FALLBACK = f"{topology.REAL_NET}.99:80"


@pytest.fixture(scope="class")
def removing(
    lab: topology.Lab, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, DaemonLog, Path]]:
    subprocess.run(["ipvsadm", "-C"], check=True)
    healthy(lab)
    home = tmp_path_factory.mktemp("removing")
    record = home / "fallbackcommand.calls"
    script = recording_script(home / "fallback.sh", record)
    config = home / "removing.cf"
    text = (f'{TIMING}quiescent=no\ncleanstop=no\nlogfile="{home / "ldirectord.log"}"\n'
            f"fallback={FALLBACK} masq\nfallbackcommand={script}\n"
            + virtual(80, [(lab.reals[0], 1), (lab.reals[1], 1)]))  # fmt: skip
    log = start(config, text)
    wait_until("both reals weighted", lambda: table_snapshot().get(SERVICE, {}) == {
        f"{lab.reals[0].address}:80": 1, f"{lab.reals[1].address}:80": 1})  # fmt: skip
    yield config, log, record
    retire(config, log)
    healthy(lab)
    subprocess.run(["ipvsadm", "-C"], check=True)


class TestRemovingFarm:
    """quiescent=no, a fallback and its command; ends with SIGTERM and cleanstop=no."""

    def test_killed_real_is_removed_when_not_quiescent(
        self, lab: topology.Lab, removing: tuple[Path, DaemonLog, Path]
    ) -> None:
        victim = f"{lab.reals[1].address}:80"
        unplug(lab.reals[1])
        try:
            gone = wait_until("dead real removed", lambda: weight_of(victim) is None)
            assert weight_of(FALLBACK) is None  # one real is still up
        finally:
            plug(lab.reals[1])
        back = wait_until("real added back", lambda: weight_of(victim) == 1)
        print(f"address removed, quiescent=no: removed after {gone:.2f}s, back after {back:.2f}s")

    def test_all_reals_down_brings_the_fallback_and_its_command(
        self, lab: topology.Lab, removing: tuple[Path, DaemonLog, Path]
    ) -> None:
        _config, log, record = removing
        before = len(recorded(record))
        command_start = f"start {VIP}:80 tcp"
        mark = log.mark()
        for dead in lab.reals[:2]:
            unplug(dead)
        try:
            inserted = wait_until("fallback alone at weight 1",
                                  lambda: table_snapshot()[SERVICE] == {FALLBACK: 1})  # fmt: skip
            wait_until(
                "fallbackcommand start", lambda: recorded(record)[before:] == [command_start]
            )
        finally:
            plug(lab.reals[0])
        real = f"{lab.reals[0].address}:80"
        removed = wait_until("fallback out, real in",
                             lambda: table_snapshot()[SERVICE] == {real: 1})  # fmt: skip
        wait_until(
            "fallbackcommand stop",
            lambda: recorded(record)[before:] == [command_start, f"stop {VIP}:80 tcp"],
        )
        print(
            f"all down: fallback in after {inserted:.2f}s, out {removed:.2f}s after a real's return"
        )
        assert f"Added fallback server: {FALLBACK} ({VIP}:80) (Weight set to 1)" in log.since(mark)
        assert f"Deleted fallback server: {FALLBACK} ({VIP}:80)" in log.since(mark)
        plug(lab.reals[1])
        wait_until("second real back", lambda: len(table_snapshot()[SERVICE]) == 2)

    def test_sigterm_with_cleanstop_no_leaves_the_table(
        self,
        removing: tuple[Path, DaemonLog, Path],
    ) -> None:
        config, log, _record = removing
        before = table_snapshot()
        took = terminate(daemon_pid(config))
        print(f"SIGTERM, cleanstop=no: gone after {took:.2f}s")
        assert table_snapshot() == before and before[SERVICE]
        assert not [line for line in log.operations_since(0) if "(stop)" in line]
        assert "Linux Director Daemon terminated on signal: TERM" in log.lines()


# --- a farm that is reloaded, edited and killed ---------------------------------------------


@pytest.fixture(scope="class")
def reloading(
    lab: topology.Lab, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, DaemonLog, Path]]:
    subprocess.run(["ipvsadm", "-C"], check=True)
    healthy(lab)
    home = tmp_path_factory.mktemp("reloading")
    record = home / "callback.calls"
    script = recording_script(home / "callback.sh", record)
    config = home / "reloading.cf"
    real1, real2 = lab.reals[0], lab.reals[1]
    log = start(config, reloading_text(home, script, "no", [
        virtual(80, [(real1, 1), (real2, 1)]), virtual(81, [(real1, 1)])]))  # fmt: skip
    wait_until("both virtuals served", lambda: table_snapshot() == {
        SERVICE: {f"{real1.address}:80": 1, f"{real2.address}:80": 1},
        f"TCP {VIP}:81": {f"{real1.address}:80": 1}})  # fmt: skip
    yield config, log, record
    retire(config, log)
    healthy(lab)
    subprocess.run(["ipvsadm", "-C"], check=True)


def reloading_text(home: Path, callback: Path, autoreload: str, virtuals: list[str]) -> str:
    return (f'{TIMING}quiescent=yes\nlogfile="{home / "ldirectord.log"}"\n'
            f'autoreload={autoreload}\ncallback="{callback}"\n' + "".join(virtuals))  # fmt: skip


class TableWatch:
    """Snapshots the table every 50 ms, to catch a dest removed and re-added between two
    reconciles (the log names every operation; this checks that the log tells all)."""

    def __init__(self) -> None:
        self.snapshots: list[dict[str, dict[str, int]]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for _ in range(600):  # bounded; spaced so the daemon keeps the one vCPU
            if self._done.wait(0.05):
                return
            self.snapshots.append(table_snapshot())

    def stop(self) -> list[dict[str, dict[str, int]]]:
        self._done.set()
        self._thread.join(timeout=10)
        return self.snapshots


class TestReloadedFarm:
    """Reloaded by command, by SIGHUP and by autoreload, then killed with -9 and restarted."""

    def test_reload_adds_and_removes_only_what_changed(
        self, lab: topology.Lab, reloading: tuple[Path, DaemonLog, Path]
    ) -> None:
        config, log, _record = reloading
        real1, real2, real3 = (f"{real.address}:80" for real in lab.reals)
        mark = log.mark()
        watch = TableWatch()
        try:
            text = config.read_text()
            config.write_text(text.replace(f"virtual={VIP}:81", f"virtual={VIP}:8080").replace(
                f"    real={real2} masq 1\n", f"    real={real3} masq 1\n", 1))  # fmt: skip
            assert cli(config, "reload").returncode == 0
            took = wait_until("reloaded table", lambda: table_snapshot() == {
                SERVICE: {real1: 1, real3: 1}, f"TCP {VIP}:8080": {real1: 1}})  # fmt: skip
        finally:
            snapshots = watch.stop()
        print(f"reload: new table after {took:.2f}s, {len(snapshots)} snapshots taken")
        assert all(real1 in snap.get(SERVICE, {}) for snap in snapshots if snap), (
            "kept real churned"
        )
        operations = log.operations_since(mark)
        print("\n".join(operations))
        assert f"Added virtual server: {VIP}:8080" in operations
        assert f"Purged virtual server (start): {VIP}:81" in operations
        assert f"Purged real server (start): {real2} ({VIP}:80)" in operations
        assert not [line for line in operations if f"{real1} ({VIP}:80)" in line], "kept real"
        assert not [line for line in operations if line.startswith("Changed virtual")]

    def test_bad_config_leaves_table_and_daemon_as_they_were(
        self, lab: topology.Lab, reloading: tuple[Path, DaemonLog, Path]
    ) -> None:
        config, log, _record = reloading
        good = config.read_text()
        before = table_snapshot()
        pid = daemon_pid(config)
        mark = log.mark()
        # The reference keeps the globals parsed before the error (spec 3.10): its daemon
        # then deletes reals it should quiesce. The running config must stay whole.
        config.write_text(good.replace("quiescent=yes", "quiescent=no") + "virtual=oops\n")
        error = (f"reading file {config} at line {len(good.splitlines()) + 1}: "
                 "invalid address for virtual server")  # fmt: skip
        try:
            refused = cli(config, "reload")  # every action parses first, as the reference's
            assert refused.returncode == 2 and error in refused.stderr
            os.kill(pid, signal.SIGHUP)  # what systemd's or an operator's kill -HUP does
            log.wait_for(mark, f"Error [{pid}] {error}")
            time.sleep(2.0)  # two check rounds: nothing may change
            assert table_snapshot() == before
            victim = f"{lab.reals[2].address}:80"
            unplug(lab.reals[2])
            took = wait_until("dead real quiesced", lambda: weight_of(victim, SERVICE) == 0)
            print(f"after a failed reload, a dead real is still quiesced ({took:.2f}s)")
        finally:
            plug(lab.reals[2])
            config.write_text(good)
        wait_until("real restored", lambda: table_snapshot() == before)
        assert [line.split(":")[0] for line in log.operations_since(mark)] == [
            "Quiescent real server", "Restored real server"]  # fmt: skip
        status = cli(config, "status")
        assert status.returncode == 0 and f"is running with pid: {pid}" in status.stderr

    def test_autoreload_and_callback(
        self, lab: topology.Lab, reloading: tuple[Path, DaemonLog, Path]
    ) -> None:
        config, log, record = reloading
        real1 = f"{lab.reals[0].address}:80"
        calls = len(recorded(record))
        mark = log.mark()
        config.write_text(config.read_text().replace("autoreload=no", "autoreload=yes"))
        log.wait_for(mark, " - ignore new configuration")  # the running config has autoreload=no
        wait_until("callback run", lambda: len(recorded(record)) > calls)
        assert cli(config, "reload").returncode == 0
        log.wait_for(mark, "Reloading Linux Director Daemon config on signal")
        mark = log.mark()
        config.write_text(
            config.read_text().replace(f"real={real1} masq 1", f"real={real1} masq 5", 1)
        )
        took = wait_until("edited weight in force", lambda: weight_of(real1, SERVICE) == 5)
        print(f"autoreload: edit in force after {took:.2f}s")
        assert f"Configuration file '{config}' has changed on disk" in log.since(mark)
        assert " - reread new configuration" in log.since(mark)
        wait_until("callback run again", lambda: len(recorded(record)) >= calls + 2)
        assert set(recorded(record)[calls:]) == {str(config)}

    def test_kill_9_then_start_adopts_the_table(
        self, lab: topology.Lab, reloading: tuple[Path, DaemonLog, Path]
    ) -> None:
        config, log, _record = reloading
        unplug(lab.reals[2])  # a dead, quiesced real must stay quiesced without any operation
        try:
            wait_until("dead real quiesced", lambda: weight_of(f"{lab.reals[2].address}:80") == 0)
            before = table_snapshot()
            pid = daemon_pid(config)
            terminate(pid, signal.SIGKILL)
            assert table_snapshot() == before
            mark = log.mark()
            watch = TableWatch()
            try:
                restarted = cli(config, "start")
                assert restarted.returncode == 0, restarted.stderr
                new_pid = daemon_pid(config)
                assert new_pid != pid and alive(new_pid)
                state = f"{RUNDIR}/pyldirectord.{config.name}.json"
                wait_until("the new daemon's first pass", lambda: published_by(state) == new_pid)
                time.sleep(2.5)  # two more check rounds, reconciled: nothing may change in them
            finally:
                snapshots = watch.stop()
            assert log.operations_since(mark) == []
            assert table_snapshot() == before
            assert all(snap == before for snap in snapshots), "the table changed during adoption"
            print(f"kill -9 and start: {len(snapshots)} snapshots, table unchanged, no operation")
        finally:
            plug(lab.reals[2])


def published_by(state_file: str) -> int | None:
    state = read_state(state_file)
    return None if state is None else state.pid
