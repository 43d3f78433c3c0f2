"""Hooks the installed ``pyldirectord`` loads in these tests (``PYLDIRECTORD_HOOKS``).

A real, minimal director body: it publishes a state file, starts the execute= sub-instances,
then waits for signals and records each one in ``$PYLDIRECTORD_TEST_EVENTS``, so a test sees
that SIGHUP and SIGTERM really reached the daemon. The log appends to ``$PYLDIRECTORD_TEST_LOG``
(and to stderr with ``-d``, as the reference logs). Configs go through the real parser.
``$PYLDIRECTORD_TEST_DIRECTOR_FAILS`` makes building the director fail with that text.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from pyldirectord.config import resolve
from pyldirectord.config.model import Config
from pyldirectord.lifecycle import DirectorContext, Hooks, Log, LogSetup
from pyldirectord.statefile import DirectorState, RealState, VirtualState, write_state

EVENTS_ENV = "PYLDIRECTORD_TEST_EVENTS"
LOG_ENV = "PYLDIRECTORD_TEST_LOG"


def load_config(path: str) -> Config:
    return resolve.load(path)  # the real parser and resolution pass


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
        failure = os.environ.get("PYLDIRECTORD_TEST_DIRECTOR_FAILS")
        if failure:
            raise RuntimeError(failure)
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
