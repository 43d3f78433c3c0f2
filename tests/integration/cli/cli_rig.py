"""Runs the installed ``pyldirectord`` console script as the operator would, in a private
run directory, with the signal-waiting director of ``lifecycle_hooks``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyldirectord.cli import pidfile

BINARY = str(Path(sys.executable).parent / "pyldirectord")
HERE = Path(__file__).resolve().parent
DEADLINE = 30.0  # only catches hangs (decisions.md: latency is never asserted)


@dataclass
class Rig:
    root: Path
    started: list[int] = field(default_factory=list)

    @property
    def rundir(self) -> Path:
        return self.root / "run"

    @property
    def events(self) -> Path:
        return self.root / "events"

    @property
    def log(self) -> Path:
        return self.root / "ldirectord.log"

    def environ(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            pidfile.RUNDIR_ENV: str(self.rundir),
            "PYLDIRECTORD_HOOKS": "lifecycle_hooks",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
            "PYLDIRECTORD_TEST_EVENTS": str(self.events),
            "PYLDIRECTORD_TEST_LOG": str(self.log),
        })  # fmt: skip
        return env

    def run(
        self, *args: str, cwd: Path | None = None, extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        result = subprocess.run(
            [BINARY, *args], env=self.environ() | (extra or {}), cwd=cwd or self.root,
            capture_output=True, text=True, timeout=90,
        )  # fmt: skip
        print(f"pyldirectord {' '.join(args)} -> {result.returncode} "
              f"in {time.monotonic() - started:.2f}s")  # fmt: skip
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [BINARY, *args], env=self.environ(), cwd=self.root,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.started.append(process.pid)
        return process

    def config(self, name: str, text: str = "checktimeout=3\n") -> str:
        """A config file; its logfile is the test's (the parser test-opens it, as the
        reference does, and must not create /var/log/ldirectord.log)."""
        path = self.root / name
        path.write_text(f'logfile="{self.log}"\n{text}')
        return str(path)

    def pid_file(self, cfgname: str) -> Path:
        return self.rundir / f"ldirectord.{cfgname}.pid"

    def daemon_pid(self, cfgname: str) -> int:
        state = pidfile.probe(str(self.pid_file(cfgname)))
        assert isinstance(state, pidfile.Running) and state.pid is not None, state
        self.started.append(state.pid)
        return state.pid

    def event_lines(self) -> list[str]:
        return self.events.read_text().splitlines() if self.events.exists() else []

    def log_lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def cleanup(self) -> None:
        """Kill what this test started and what still holds a lock in its run directory."""
        holders = list(self.started)
        for path in self.rundir.glob("*"):
            state = pidfile.probe(str(path), settle=0.0)
            if isinstance(state, pidfile.Running) and state.pid:
                holders.append(state.pid)
        for pid in holders:
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)


def make_rig(tmp_path: Path) -> Rig:
    rig = Rig(tmp_path)
    rig.rundir.mkdir()
    return rig


def process_alive(pid: int) -> bool:
    """Alive and not a zombie (a zombie has released every lock already)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # ESRCH: reaped while we read it
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)
    print(f"{what}: {time.monotonic() - started:.2f}s")
