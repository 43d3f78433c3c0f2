"""``execute=`` sub-instances (spec 3.12): other configs run by our own binary.

Each value runs as ``<own binary> <value> <action>`` through the shell (the reference's
``system``; quotes written in the value are removed by that shell, quirk 34), with a timeout
the reference lacks. Exit codes are ignored except by reload-or-start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Log = Callable[[str], None]
DEFAULT_TIMEOUT = 60.0  # a sub-instance's stop waits up to 30 s for its daemon


def _kill_group(process: subprocess.Popen[bytes], grace: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass(frozen=True, slots=True)
class SubInstances:
    binary: str  # shell words that run pyldirectord itself
    names: tuple[str, ...]  # the execute= values, verbatim
    log: Log
    timeout: float = DEFAULT_TIMEOUT

    def system(self, command: str) -> int | None:
        """Run one shell command in its own process group; None when it could not finish."""
        try:
            process = subprocess.Popen(command, shell=True, start_new_session=True)
        except OSError as error:
            self.log(f"system({command}) failed: {error.strerror}")
            return None
        try:
            return process.wait(self.timeout)
        except subprocess.TimeoutExpired:
            self.log(f"system_timeout({self.timeout:g}, {command}) timed out, kill -TERM child")
            _kill_group(process, grace=5.0)
            return None

    def run(self, action: str, names: Sequence[str] | None = None) -> None:
        for name in self.names if names is None else names:
            self.system(f"{self.binary} {name} {action}")

    def reload_from(self, previous: Sequence[str]) -> None:
        """Reload (3.10 step 3): stop the removed, reload-or-start the kept, start the new."""
        self.run("stop", [name for name in previous if name not in self.names])
        for name in self.names:
            if name in previous and self.system(f"{self.binary} {name} reload") != 0:
                self.system(f"{self.binary} {name} start")
        self.run("start", [name for name in self.names if name not in previous])
