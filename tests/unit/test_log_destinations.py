"""The reference's log destinations and formats, byte-exact (spec 6.1, 6.2)."""

from __future__ import annotations

import calendar
import io
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyldirectord.config.model import Config, Globals
from pyldirectord.notify.log import (
    Log,
    LogOpenError,
    LogSetup,
    ctime,
    make_log,
    syslog_timestamp,
)

T = float(calendar.timegm((2026, 11, 24, 19, 10, 58, 0, 0, 0)))  # a Tuesday
T_DAY4 = float(calendar.timegm((2026, 11, 4, 9, 5, 1, 0, 0, 0)))


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def make(tmp: Path | None = None, **kw: object) -> tuple[Log, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    args: dict[str, object] = {
        "debug": False, "supervised": False, "logfile": "/nonexistent", "cfgname": "ldirectord",
        "stdout": out, "stderr": err, "clock": lambda: T, "pid": lambda: 4242, **kw,
    }  # fmt: skip
    return Log.for_config(**args), out, err  # type: ignore[arg-type]


def test_ctime_is_perls_scalar_localtime() -> None:
    assert ctime(T) == "Tue Nov 24 19:10:58 2026"
    assert ctime(T_DAY4) == "Wed Nov  4 09:05:01 2026"
    assert syslog_timestamp(T_DAY4) == "Nov  4 09:05:01"


def test_debug_mode_writes_bare_messages_to_stderr_after_a_debug2_copy() -> None:
    log, out, err = make(debug=True, supervised=True)  # -d wins over supervised
    log.log("Added virtual server: 192.0.2.1:80\n")
    log.debug(3, "Running system(x)")
    log.debug(4, "never shown")
    assert err.getvalue() == (
        "DEBUG2: Added virtual server: 192.0.2.1:80\n"
        "Added virtual server: 192.0.2.1:80\n"
        "DEBUG3: Running system(x)\n"
    )
    assert out.getvalue() == ""


def test_supervised_writes_stamped_lines_to_stdout() -> None:
    log, out, err = make(supervised=True, logfile="/also/ignored")
    log.log("one\n\n")  # only one trailing newline is removed
    log.debug(1, "debug output needs -d")
    assert out.getvalue() == "[Tue Nov 24 19:10:58 2026] one\n\n"
    assert err.getvalue() == ""


def test_logfile_line_format_and_logrotate(tmp_path: Path) -> None:
    path = tmp_path / "ldirectord.log"
    log, _, err = make(logfile=str(path), cfgname="web.cf")
    assert path.exists()  # test-opened at start, like ld_openlog
    log.log("first")
    path.rename(tmp_path / "ldirectord.log.1")  # logrotate without copytruncate
    log.log("second")
    assert (tmp_path / "ldirectord.log.1").read_text() == (
        "[Tue Nov 24 19:10:58 2026|web.cf|4242] first\n"
    )
    assert path.read_text() == "[Tue Nov 24 19:10:58 2026|web.cf|4242] second\n"
    assert err.getvalue() == ""


def test_logfile_failure(tmp_path: Path) -> None:
    with pytest.raises(LogOpenError, match=r"^unable to open logfile: /nonexistent/x\.log$"):
        make(logfile="/nonexistent/x.log")
    path = tmp_path / "d" / "l.log"
    path.parent.mkdir()
    log, _, err = make(logfile=str(path))
    path.unlink()
    path.parent.rmdir()
    log.log("lost file")  # the reference falls back to stderr, bare message
    assert err.getvalue() == "lost file\n"


def test_unknown_syslog_facility_is_the_reference_error() -> None:
    with pytest.raises(LogOpenError, match=r"^unable to open logfile: nosuch$"):
        make(logfile="nosuch")


def bind_syslog(path: Path) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(5)
    return server


def test_syslog_frames_like_sys_syslog_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "log.sock"
    server = bind_syslog(path)
    log, _, err = make(logfile="local3", syslog_socket=str(path))
    log.log("Deleted real server: 10.0.0.1:80 (192.0.2.1:80)")
    # local3 = 19: 19 * 8 + info(6) = 158; ident with the pid option; newline and NUL
    assert server.recv(4096) == (
        b"<158>Nov 24 19:10:58 ldirectord[4242]: "
        b"Deleted real server: 10.0.0.1:80 (192.0.2.1:80)\n\0"
    )
    server.close()
    path.unlink()
    server = bind_syslog(path)  # syslogd restarted: a new socket at the same path
    log.log("again")
    assert server.recv(4096) == b"<158>Nov 24 19:10:58 ldirectord[4242]: again\n\0"
    server.close()
    path.unlink()
    log.log("nobody listening")
    assert err.getvalue() == "nobody listening\n"
    log.close()


def setup_for(config: Config | None, debug: bool = False) -> LogSetup:
    return LogSetup(config, "web", debug)


def test_make_log_follows_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "l.log"
    log = make_log(setup_for(Config("web.cf", Globals(logfile=str(path)))))
    log("to the file")
    assert path.read_text().endswith("|web|" + str(os.getpid()) + "] to the file\n")
    make_log(setup_for(Config("web.cf", Globals(logfile=str(path), supervised=True))))("out")
    make_log(setup_for(None, debug=True))("err")
    captured = capsys.readouterr()
    assert captured.out.endswith("] out\n") and captured.err == "DEBUG2: err\nerr\n"
    absent = make_log(setup_for(Config("web.cf", Globals(logfile=str(tmp_path / "no" / "f")))))
    absent("not fatal")  # the parser reported it; the line goes to stderr
    assert capsys.readouterr().err == "not fatal\n"
