"""Hooks the installed ``pyldirectord`` loads in these tests (``PYLDIRECTORD_HOOKS``).

A real, minimal director body: it publishes a state file, starts the execute= sub-instances,
then waits for signals and records each one in ``$PYLDIRECTORD_TEST_EVENTS``, so a test sees
that SIGHUP and SIGTERM really reached the daemon. The log appends to ``$PYLDIRECTORD_TEST_LOG``
(and to stderr with ``-d``, as the reference logs). The config loader reads only what the
lifecycle needs (``supervised``, ``execute``) and reports a column-0 line without ``=`` as
the reference's ``Unknown command``, so a bad config exits 2 with the reference's message shape.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from pyldirectord.config.errors import ConfigError
from pyldirectord.config.model import Config, Globals
from pyldirectord.lifecycle import DirectorContext, Hooks, Log, LogSetup
from pyldirectord.statefile import DirectorState, RealState, VirtualState, write_state

EVENTS_ENV = "PYLDIRECTORD_TEST_EVENTS"
LOG_ENV = "PYLDIRECTORD_TEST_LOG"


def load_config(path: str) -> Config:
    supervised = False
    execute: list[str] = []
    with open(path, encoding="utf-8") as stream:
        for number, raw in enumerate(stream, start=1):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#") or line[0] in " \t":
                continue
            key, has_value, value = line.partition("=")
            if not has_value:
                raise ConfigError(path, number, f"Unknown command {raw} \n")  # raw ends in "\n"
            if key == "supervised":
                supervised = value.strip() == "yes"
            elif key == "execute":
                execute.append(value.strip())
    return Config(path=path, globals=Globals(supervised=supervised, execute=tuple(execute)))


def make_log(setup: LogSetup) -> Log:
    target = os.environ.get(LOG_ENV)

    def log(message: str) -> None:
        if setup.debug:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        if target:
            with open(target, "a", encoding="utf-8") as stream:
                stream.write(f"[{setup.cfgname}|{os.getpid()}] {message}\n")

    return log


def _record(event: str) -> None:
    target = os.environ.get(EVENTS_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as stream:
            stream.write(f"{os.getpid()} {event}\n")


class SignalWaitingDirector:
    def __init__(self, context: DirectorContext) -> None:
        self.context = context
        self.stopped = threading.Event()
        self.reloads = 0

    def _publish(self) -> None:
        real = RealState("127.0.0.1:80", "up", 1, time.time(), f"reloads={self.reloads}")
        state = DirectorState(os.getpid(), self.context.config_path, time.time(),
                              (VirtualState("tcp:127.0.0.1:80", (real,)),))  # fmt: skip
        write_state(self.context.state_file, state)

    def run(self) -> None:
        self._publish()
        self.context.sub_instances.run("start")
        _record("started")
        seen = 0
        deadline = time.monotonic() + 600  # a forgotten test daemon ends by itself
        while not self.stopped.wait(0.05) and time.monotonic() < deadline:
            if self.reloads != seen:
                seen = self.reloads
                self.context.log("Reloading Linux Director Daemon config on signal")
                self._publish()
                _record("reloaded")
        _record("stopped")

    def request_reload(self) -> None:
        self.reloads += 1

    def request_stop(self, signame: str) -> None:
        _record(f"stop {signame}")
        self.stopped.set()


def hooks() -> Hooks:
    return Hooks(load_config=load_config, make_log=make_log, make_director=SignalWaitingDirector)
