"""Hooks the installed ``pyldirectord`` loads in these tests (``PYLDIRECTORD_HOOKS``).

A real, minimal asyncio director body run by the production ``AsyncRunner``: it publishes a
state file and records start, every reload (with the number of virtuals of the config it was
given) and stop in ``$PYLDIRECTORD_TEST_EVENTS``, so a test sees that SIGHUP and SIGTERM
really reached the daemon and that a reload re-read the config. The log appends to
``$PYLDIRECTORD_TEST_LOG`` (and to stderr with ``-d``). Configs go through the real parser.
``$PYLDIRECTORD_TEST_DIRECTOR_FAILS`` makes building the director fail with that text, and
``$PYLDIRECTORD_TEST_START_BUG`` makes its start raise (a bug in the running daemon).
"""

from __future__ import annotations

import os
import sys
import time

from pyldirectord.cli.lifecycle import Hooks
from pyldirectord.config.model import Config
from pyldirectord.notify.log import LogSetup
from pyldirectord.notify.statefile import DirectorState, RealState, VirtualState, write_state
from pyldirectord.runtime import configload
from pyldirectord.runtime.asyncrunner import AsyncDirector, AsyncRunner
from pyldirectord.runtime.context import DirectorContext, LogFn

EVENTS_ENV = "PYLDIRECTORD_TEST_EVENTS"
LOG_ENV = "PYLDIRECTORD_TEST_LOG"


def load_config(path: str) -> Config:
    return configload.load(path)  # the real parser, resolution pass and table check


def make_log(setup: LogSetup) -> LogFn:
    target = os.environ.get(LOG_ENV)

    def log(message: str) -> None:
        if setup.debug:
            sys.stderr.write(message.removesuffix("\n") + "\n")
            sys.stderr.flush()
        if target:
            with open(target, "a", encoding="utf-8") as stream:
                stream.write(f"[{setup.cfgname}|{os.getpid()}] {message.removesuffix(chr(10))}\n")

    return log


def _record(event: str) -> None:
    target = os.environ.get(EVENTS_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as stream:
            stream.write(f"{os.getpid()} {event}\n")


class RecordingDirector:
    def __init__(self, context: DirectorContext) -> None:
        self.context = context
        self.reloads = 0

    def _publish(self) -> None:
        real = RealState("127.0.0.1:80", "up", 1, time.time(), f"reloads={self.reloads}")
        state = DirectorState(os.getpid(), self.context.config_path, time.time(),
                              (VirtualState("tcp:127.0.0.1:80", (real,)),))  # fmt: skip
        try:
            write_state(self.context.state_file, state)
        except OSError as error:  # as the production director: logged, never fatal
            self.context.log(f"cannot write state file {self.context.state_file}: {error}")

    async def start(self) -> None:
        self._publish()
        _record("started")
        bug = os.environ.get("PYLDIRECTORD_TEST_START_BUG")
        if bug:  # a bug in the director's own code, after the daemon reported ready
            raise KeyError(bug)

    async def reload(self, new: Config) -> None:
        self.reloads += 1
        self._publish()
        _record(f"reloaded virtuals={len(new.virtuals)}")

    async def stop(self) -> None:
        _record("stopped")


async def build(context: DirectorContext) -> AsyncDirector:
    return RecordingDirector(context)


def make_director(context: DirectorContext) -> AsyncRunner:
    failure = os.environ.get("PYLDIRECTORD_TEST_DIRECTOR_FAILS")
    if failure:
        raise RuntimeError(failure)
    return AsyncRunner(context, build, load_config)


def hooks() -> Hooks:
    return Hooks(load_config=load_config, make_log=make_log, make_director=make_director)
