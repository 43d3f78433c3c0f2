"""The process lifecycle under the ldirectord actions (spec 1.5-1.7, 1.9): the session an
invocation opens (its config parsed whole), daemonising, signals and the pid file; the actions
and their exit codes are ``actions``'s. No decisions about the IPVS table here: the daemon body
is injected (``Hooks.make_director``), and so are the config loader and the log.

Deliberate differences from the reference (docs/compatibility.md):
* running = a live ``fcntl`` lock on the pid file, not "/proc/<pid>/cmdline mentions ldirectord";
* only the daemon removes its pid file: a CLI call with a bad config leaves a running daemon's
  pid file alone (quirk 1), a foreground instance never touches it (quirk 37);
* ``stop`` and ``restart`` wait for the daemon to be gone, with a bound (quirk 2);
* ``start`` returns once the daemon holds its pid file lock and has written its pid;
* every instance, foreground ones included, holds ``pyldirectord.<CFGNAME>.lock``, so a second
  director for the same config refuses to start instead of fighting over the table.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TextIO

from pyldirectord.cli import pidfile
from pyldirectord.cli.daemonize import Notifier, spawn_daemon
from pyldirectord.cli.invocation import (
    Invocation,
    resolve_config,
)
from pyldirectord.config.errors import ConfigError, reference_warning_text
from pyldirectord.config.model import Config
from pyldirectord.notify.log import LogSetup
from pyldirectord.notify.statefile import state_file_path
from pyldirectord.runtime.context import DaemonBody, DirectorContext, LogFn
from pyldirectord.runtime.subinstances import SubInstances

VERSION_STR = "Linux Director v1.186-ha"

EXIT_OK = 0
EXIT_FAILURE = 1  # config file not found, reload while stopped, stale pid file on status
EXIT_CONFIG_ERROR = 2
EXIT_NOT_RUNNING = 3  # status, no pid file
EXIT_USAGE = 255

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
# The longest `stop` waits for the daemon to be gone, and `start` for the daemon's report
# (which includes loading ip_vs: kmod.MODPROBE_TIMEOUT). A cluster manager's op timeouts must
# be longer: contrib/ sets 45 s, and tests/unit/test_cluster_timeouts.py holds them to it.
STOP_TIMEOUT = 30.0
# It ends at the report, so a generous bound costs nothing; the daemon's imports alone took
# over 10 s on a loaded CI machine in the sandbox (hostfs), and a spurious "not ready" would
# fail a start that worked.
READY_TIMEOUT = 30.0

@dataclass(frozen=True, slots=True)
class Hooks:
    load_config: Callable[[str], Config]  # parse + resolve; raises ConfigError
    make_log: Callable[[LogSetup], LogFn]
    make_director: Callable[[DirectorContext], DaemonBody]


@dataclass(frozen=True, slots=True)
class Environment:
    rundir: str
    argv0: str  # $0 as invoked, for "Invoking ldirectord invoked as:"
    binary: str  # shell words that run this program again (execute= sub-instances)
    self_command: tuple[str, ...]  # argv prefix that runs this program again (restart)
    out: TextIO
    err: TextIO
    usage_text: str
    version_text: str
    stop_timeout: float = STOP_TIMEOUT
    ready_timeout: float = READY_TIMEOUT  # how long `start` waits for the daemon's report


@dataclass(frozen=True, slots=True)
class Session:
    invocation: Invocation
    config_path: str
    config: Config
    hooks: Hooks
    env: Environment
    log: LogFn

    @property
    def pid_path(self) -> str:
        return pidfile.pid_file_path(self.env.rundir, self.invocation.cfgname)

    @property
    def lock_path(self) -> str:
        return pidfile.instance_lock_path(self.env.rundir, self.invocation.cfgname)

    @property
    def state_path(self) -> str:
        return state_file_path(self.env.rundir, self.invocation.cfgname)

    @property
    def sub_instances(self) -> SubInstances:
        return SubInstances(self.env.binary, self.config.globals.execute, self.log)

    def finish(self, code: int, why: str) -> int:
        return finish(self.log, self.invocation.debug, code, why)


def finish(log: LogFn, debug: bool, code: int, why: str) -> int:
    """``ld_exit``: log ``Exiting with exit_status N: why`` for N != 0, always with ``-d``."""
    if code != 0 or debug:
        log(f"Exiting with exit_status {code}: {why}")
    return code


def _write(stream: TextIO, text: str) -> None:
    stream.write(text)
    stream.flush()  # keep stderr and stdout lines in order for `status 2>&1` readers


# --- opening a session ---------------------------------------------------------------------


def _load(hooks: Hooks, path: str) -> Config:
    try:
        return hooks.load_config(path)
    except OSError:  # the reference's read_config: config_error(0, "can not open file ...")
        raise ConfigError(path, 0, f"can not open file {path}") from None


def open_session(invocation: Invocation, hooks: Hooks, env: Environment) -> Session | int:
    """Resolve and fully parse the config (every action does), then log the invocation."""
    early_log = hooks.make_log(LogSetup(None, invocation.cfgname, invocation.debug))
    path = resolve_config(invocation.config)
    if path is None:
        message = f"Config file {invocation.config} not found"
        early_log(message)
        if not invocation.debug:  # with -d the log line already went to stderr
            _write(env.err, message + "\n")
        return finish(early_log, invocation.debug, EXIT_FAILURE, "Initialisation Error")
    try:
        config = _load(hooks, path)
    except ConfigError as error:
        # Unlike the reference, never unlink the pid file here: it may be a live daemon's.
        _write(env.err, error.reference_text(os.getpid()))
        return finish(early_log, invocation.debug, EXIT_CONFIG_ERROR,
                      "config_error: Configuration Error")  # fmt: skip
    for warning in config.warnings:  # e.g. the deprecated checkcount, as the reference warns
        _write(env.err, reference_warning_text(warning, os.getpid()))
    log = hooks.make_log(LogSetup(config, invocation.cfgname, invocation.debug))
    words = (env.argv0, *invocation.positionals)
    log("Invoking ldirectord invoked as: " + "".join(f"{word} " for word in words))
    return Session(invocation, path, config, hooks, env, log)


# --- starting --------------------------------------------------------------------------------


def launch(session: Session) -> int:
    """Foreground with ``-d`` or ``supervised=yes`` (no pid file), else a daemon."""
    if session.invocation.debug or session.config.globals.supervised:
        session.log(f"Starting {VERSION_STR} with pid: {os.getpid()}")
        return run_foreground(session)
    session.log(f"Starting {VERSION_STR} as daemon")
    return run_daemon(session)


def _refuse_second_instance(session: Session, lock: pidfile.HeldLock) -> str:
    return (f"ldirectord for {session.config_path} is already running in the foreground "
            f"with pid: {lock.holder_pid()}")  # fmt: skip


def _foreground_lock(session: Session) -> pidfile.HeldLock | None:
    """The single-instance lock, if the run directory lets us have one: the reference needs
    no run directory in the foreground, so a missing or read-only one only costs the guard."""
    try:
        return pidfile.HeldLock.open(session.lock_path)
    except OSError as error:
        session.log(f"Can not open {session.lock_path} ({error.strerror}): "
                    "running without the single-instance lock")  # fmt: skip
        return None


def run_foreground(session: Session) -> int:
    router = SignalRouter()
    router.install()
    instance = _foreground_lock(session)
    if instance is not None and not instance.acquire():
        message = _refuse_second_instance(session, instance)
        instance.release(unlink=False)
        _write(session.env.err, message + "\n")
        return session.finish(EXIT_FAILURE, message)
    try:
        if instance is not None:
            instance.write_pid(os.getpid())
        try:
            director = session.hooks.make_director(director_context(session, foreground=True))
        except Exception as error:
            _write(session.env.err, f"{error}\n")
            return session.finish(EXIT_FAILURE, str(error))
        return serve(session, router, director)
    finally:
        if instance is not None:
            instance.release(unlink=False)


def run_daemon(session: Session) -> int:
    # Opened before forking, as the reference does, so the error reaches the caller's stderr.
    try:
        pid_lock = pidfile.HeldLock.open(session.pid_path)
    except OSError:
        _write(session.env.err, f"Can not open {session.pid_path}\n")
        return session.finish(EXIT_FAILURE, "Initialisation Error")
    for stream in (session.env.out, session.env.err):
        stream.flush()  # nothing buffered may be written twice by the children
    report = spawn_daemon(lambda notifier: daemon_body(session, pid_lock, notifier),
                          timeout=session.env.ready_timeout)  # fmt: skip
    os.close(pid_lock.fd)
    if report.ready:
        return EXIT_OK
    _write(session.env.err, report.message + "\n")
    return session.finish(EXIT_FAILURE, report.message)


def daemon_body(session: Session, pid_lock: pidfile.HeldLock, notifier: Notifier) -> int:
    """In the daemon: lock, write the pid, report ready, serve, clean up."""
    router = SignalRouter()  # from the start: a stop signal is never lost, only deferred
    router.install()
    if not pid_lock.acquire():
        notifier.ready()  # another `start` won the race: that daemon is the one
        return EXIT_OK
    instance = pidfile.HeldLock.open(session.lock_path)
    if not instance.acquire():
        message = _refuse_second_instance(session, instance)
        pid_lock.release(unlink=True)  # before reporting: the caller may look at once
        notifier.failed(message)
        return EXIT_FAILURE
    instance.write_pid(os.getpid())
    pid_lock.write_pid(os.getpid())
    try:
        # Built before reporting ready, so that `start` can say why a director cannot run.
        director = session.hooks.make_director(director_context(session, foreground=False))
    except Exception as error:
        pid_lock.release(unlink=True)
        instance.release(unlink=False)
        notifier.failed(str(error))
        return session.finish(EXIT_FAILURE, str(error))
    notifier.ready()
    try:
        return serve(session, router, director)
    finally:
        pid_lock.release(unlink=True)
        instance.release(unlink=False)


# --- serving ---------------------------------------------------------------------------------


def _ignore_signal(_signum: int, _frame: FrameType | None) -> None:
    pass


class SignalRouter:
    """Routes TERM/INT/QUIT and HUP to the director; installed before the daemon reports
    ready, so a `stop` issued right after `start` is never lost to a default signal action."""

    def __init__(self) -> None:
        self.director: DaemonBody | None = None
        self.signame: str | None = None  # the stop signal, once one arrived
        self.reload_pending = False

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)

    def attach(self, director: DaemonBody) -> None:
        self.director = director
        if self.signame is not None:
            director.request_stop(self.signame)
        elif self.reload_pending:
            director.request_reload()

    def detach(self) -> None:
        # A late signal must not interrupt the cleanup. A Python handler, unlike SIG_IGN, is
        # reset by exec, so the commands the cleanup runs still get default dispositions.
        for signum in (*STOP_SIGNALS, signal.SIGHUP):
            signal.signal(signum, _ignore_signal)
        self.director = None

    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        self.signame = signal.Signals(signum).name.removeprefix("SIG")
        if self.director is not None:
            self.director.request_stop(self.signame)

    def _on_hup(self, _signum: int, _frame: FrameType | None) -> None:
        self.reload_pending = True
        if self.director is not None:
            self.director.request_reload()


def director_context(session: Session, *, foreground: bool) -> DirectorContext:
    return DirectorContext(
        config=session.config, config_path=session.config_path,
        cfgname=session.invocation.cfgname, debug=session.invocation.debug,
        foreground=foreground, log=session.log, state_file=session.state_path,
        sub_instances=session.sub_instances,
    )  # fmt: skip


def serve(session: Session, router: SignalRouter, director: DaemonBody) -> int:
    """Run the director until a stop signal; then log the end."""
    try:
        router.attach(director)
        director.run()
    except Exception as error:  # the director's bug must still end in a logged exit
        session.log(f"director failed: {error!r}")
        return session.finish(EXIT_FAILURE, f"director failed: {error}")
    finally:
        router.detach()
        with contextlib.suppress(FileNotFoundError):  # `status` must not show a dead table
            os.unlink(session.state_path)
    if router.signame is None:
        return session.finish(EXIT_OK, 'Reached end of "main"')
    message = f"Linux Director Daemon terminated on signal: {router.signame}"
    session.log(message)
    return session.finish(EXIT_OK, message)
