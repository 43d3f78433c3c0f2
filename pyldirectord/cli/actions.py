"""The ldirectord actions and their exit codes: start, stop, restart, reload, status.

The entry point (``run``) reads the options, opens the session (``lifecycle.open_session``:
the whole config parsed) and runs the action; starting and serving the daemon body is
``lifecycle``'s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable

from pyldirectord.cli import pidfile
from pyldirectord.cli.invocation import invocation_of, parse_options
from pyldirectord.cli.lifecycle import (
    EXIT_FAILURE,
    EXIT_NOT_RUNNING,
    EXIT_OK,
    EXIT_USAGE,
    Environment,
    Hooks,
    Session,
    _write,
    finish,
    launch,
    open_session,
)
from pyldirectord.notify.log import LogSetup
from pyldirectord.notify.statefile import read_state, render_table


def run(args: list[str], hooks: Hooks, env: Environment) -> int:
    options = parse_options(args)
    if options.errors:
        _write(env.err, "".join(f"{error}\n" for error in options.errors))
        _write(env.out, env.usage_text)
        return EXIT_USAGE
    if options.help:
        _write(env.out, env.usage_text)
        return EXIT_OK
    if options.version:
        _write(env.out, env.version_text)
        if options.debug:
            finish(hooks.make_log(LogSetup(None, "ldirectord", True)), True, EXIT_OK, "")
        return EXIT_OK
    invocation = invocation_of(options)
    if invocation is None:
        _write(env.out, env.usage_text)
        return EXIT_USAGE
    session_or_code = open_session(invocation, hooks, env)
    if isinstance(session_or_code, int):
        return session_or_code
    return ACTIONS[invocation.action](session_or_code)


# --- actions ---------------------------------------------------------------------------------


def _exiting(session: Session) -> str:
    return f"Exiting from ldirectord {session.invocation.action}"


def action_start(session: Session) -> int:
    if isinstance(pidfile.probe(session.pid_path), pidfile.Running):
        return session.finish(EXIT_OK, _exiting(session))
    return launch(session)


def action_stop(session: Session) -> int:
    state = pidfile.probe(session.pid_path)
    if isinstance(state, pidfile.Running):
        code = stop_daemon(session, state)
        if code != EXIT_OK:
            return code
    return session.finish(EXIT_OK, _exiting(session))


def action_restart(session: Session) -> int:
    state = pidfile.probe(session.pid_path)
    if isinstance(state, pidfile.Running):
        code = stop_daemon(session, state)
        if code != EXIT_OK:
            return code
    elif session.invocation.action == "try-restart":
        return session.finish(EXIT_OK, _exiting(session))
    if session.invocation.debug or session.config.globals.supervised:
        return launch(session)
    return start_as_start(session)


def start_as_start(session: Session) -> int:
    """The new daemon must show ``BINARY CONFIG start`` (the OCF agent's ``pgrep -f``), not
    ``... restart``: run the very ``start`` command instead of forking from this process."""
    invocation = session.invocation
    words = ("start",) if len(invocation.positionals) == 1 else (invocation.config, "start")
    for stream in (session.env.out, session.env.err):
        stream.flush()
    return subprocess.run([*session.env.self_command, *words], check=False).returncode


def action_reload(session: Session) -> int:
    state = pidfile.probe(session.pid_path)
    if isinstance(state, pidfile.Running) and _signal(session, state, signal.SIGHUP):
        return session.finish(EXIT_OK, _exiting(session))
    if not isinstance(state, pidfile.Running):
        # The reference only logs this (to stderr with -d); heartbeat/LSB read the exit code.
        session.log(f"ldirectord is stopped for {session.config_path}")
    return session.finish(EXIT_FAILURE, _exiting(session))


def action_status(session: Session) -> int:
    state = pidfile.probe(session.pid_path)
    env = session.env
    if isinstance(state, pidfile.Running):
        pid = "unknown" if state.pid is None else state.pid
        line = f"ldirectord for {session.config_path} is running with pid: {pid}"
        _write(env.err, line + "\n")
        _write(env.out, status_table(session, state.pid))
        session.sub_instances.run("status")
        session.log(line)
        session.log(_exiting(session))
        return session.finish(EXIT_OK, _exiting(session))
    code = EXIT_NOT_RUNNING
    if isinstance(state, pidfile.Stale):
        line = f"ldirectord stale pid file {session.pid_path} for {session.config_path}"
        _write(env.err, line + "\n")
        session.log(line)
        code = EXIT_FAILURE
    _write(env.out, f"ldirectord is stopped for {session.config_path}\n")
    return session.finish(code, _exiting(session))


ACTIONS: dict[str, Callable[[Session], int]] = {
    "start": action_start,
    "stop": action_stop,
    "restart": action_restart,
    "try-restart": action_restart,
    "reload": action_reload,
    "force-reload": action_reload,
    "status": action_status,
}


def status_table(session: Session, pid: int | None) -> str:
    """The daemon's last published state; nothing when there is none (output stays the
    reference's), a note when the file is not the running daemon's."""
    state = read_state(session.state_path)
    if state is None:
        return ""
    if state.pid != pid:
        return f"(state file {session.state_path} is from pid {state.pid}, not this daemon)\n"
    return render_table(state, time.time())


def _signal(session: Session, state: pidfile.Running, signum: int) -> bool:
    if state.pid is None:
        _write(session.env.err, f"{session.pid_path} is locked but holds no pid\n")
        return False
    try:
        os.kill(state.pid, signum)
    except ProcessLookupError:
        return False
    return True


def stop_daemon(session: Session, state: pidfile.Running) -> int:
    """SIGTERM, then wait (bounded) until the pid file lock is released (quirk 2)."""
    if not _signal(session, state, signal.SIGTERM):
        return session.finish(EXIT_FAILURE, "could not signal the daemon")
    deadline = time.monotonic() + session.env.stop_timeout
    while isinstance(pidfile.probe(session.pid_path, settle=0.0), pidfile.Running):
        if time.monotonic() >= deadline:
            message = (f"ldirectord for {session.config_path} (pid {state.pid}) did not stop "
                       f"within {session.env.stop_timeout:g} s")  # fmt: skip
            _write(session.env.err, message + "\n")
            return session.finish(EXIT_FAILURE, message)
        time.sleep(0.1)
    return EXIT_OK


