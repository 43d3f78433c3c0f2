"""The reference's log destinations and line formats (spec 6.1, 6.2), as one small object.

| mode | destination | line |
|---|---|---|
| ``-d`` | stderr | ``DEBUG2: <msg>`` then ``<msg>`` |
| ``supervised=yes`` | stdout | ``[<ctime>] <msg>`` |
| ``logfile="/path"`` | file, opened for append per line | ``[<ctime>|<CFGNAME>|<pid>] <msg>`` |
| ``logfile="daemon"`` | syslog, unix socket | ``<PRI>Mmm dd HH:MM:SS ldirectord[pid]: <msg>`` |

The director holds one ``Log``; nothing here touches the ``logging`` module's global state.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TextIO

from pyldirectord.config.model import Config, Globals

SYSLOG_IDENT = "ldirectord"
SYSLOG_SOCKET = "/dev/log"
_LOG_INFO = 6
_FACILITIES: dict[str, int] = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
    "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
    **{f"local{n}": 16 + n for n in range(8)},
}  # fmt: skip
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class LogOpenError(Exception):
    """The configured logfile cannot be used; the text is the reference's config error."""


def ctime(now: float) -> str:
    """Perl's scalar ``localtime``: ``Tue Nov 24 19:10:58 2026``, the day padded with a space.

    ``time.asctime`` has exactly that layout and, unlike ``strftime``, ignores the locale.
    """
    return time.asctime(time.localtime(now))


def syslog_timestamp(now: float) -> str:
    """Sys::Syslog's ``%b %e %H:%M:%S`` in the C locale: ``Nov  4 09:05:01``."""
    t = time.localtime(now)
    return f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"


class Sink(Protocol):
    def write(self, message: str, now: float) -> None: ...

    def close(self) -> None: ...


class StreamSink:
    """stderr for ``-d`` (bare message), stdout for ``supervised`` (``[ctime] msg``)."""

    def __init__(self, stream: TextIO, stamped: bool) -> None:
        self._stream = stream
        self._stamped = stamped

    def write(self, message: str, now: float) -> None:
        line = f"[{ctime(now)}] {message}\n" if self._stamped else f"{message}\n"
        try:
            self._stream.write(line)
            self._stream.flush()
        except (OSError, ValueError):
            pass  # a closed terminal must not take the director down

    def close(self) -> None:
        pass


class FileSink:
    """Opened for append and closed for every line, so logrotate's rename needs no signal."""

    def __init__(
        self, path: str, cfgname: str, pid: Callable[[], int], fallback: TextIO
    ) -> None:
        self._path = path
        self._cfgname = cfgname
        self._pid = pid
        self._fallback = fallback

    def check(self) -> None:
        """The reference's test-open at start: append-open and close, or a config error."""
        try:
            with open(self._path, "a", encoding="utf-8"):
                pass
        except OSError as err:
            raise LogOpenError(f"unable to open logfile: {self._path}") from err

    def write(self, message: str, now: float) -> None:
        line = f"[{ctime(now)}|{self._cfgname}|{self._pid()}] {message}\n"
        try:
            with open(self._path, "a", encoding="utf-8", errors="replace") as file:
                file.write(line)
        except OSError:
            # the reference's behaviour: the bare message goes to stderr instead
            StreamSink(self._fallback, stamped=False).write(message, now)

    def close(self) -> None:
        pass


class SyslogSink:
    """Sys::Syslog's wire format over the local unix socket (datagram, else stream)."""

    def __init__(
        self, facility: str, pid: Callable[[], int], fallback: TextIO,
        socket_path: str = SYSLOG_SOCKET,
    ) -> None:  # fmt: skip
        if facility not in _FACILITIES:
            raise LogOpenError(f"unable to open logfile: {facility}")
        self._priority = _FACILITIES[facility] * 8 + _LOG_INFO
        self._pid = pid
        self._fallback = fallback
        self._path = socket_path
        self._sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.connect(self._path)
        except OSError as err:
            sock.close()
            if err.errno != errno.EPROTOTYPE:
                raise
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self._path)
        return sock

    def write(self, message: str, now: float) -> None:
        text = message if message.endswith("\n") else message + "\n"
        frame = f"<{self._priority}>{syslog_timestamp(now)} {SYSLOG_IDENT}[{self._pid()}]: {text}\0"
        data = frame.encode("utf-8", errors="replace")
        # one reconnect covers a restarted syslog daemon; after that, do not lose the line
        for _ in range(2):
            try:
                if self._sock is None:
                    self._sock = self._connect()
                self._sock.send(data)
                return
            except OSError:
                self.close()
        StreamSink(self._fallback, stamped=False).write(message, now)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class Log:
    """Where the director's messages go; chosen once from ``-d``, ``supervised`` and ``logfile``."""

    def __init__(
        self, sink: Sink, *, debug: bool = False, stderr: TextIO | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self._sink = sink
        self._debug = debug
        self._stderr = stderr if stderr is not None else sys.stderr
        self._clock = clock

    @classmethod
    def for_config(
        cls, *, debug: bool, supervised: bool, logfile: str, cfgname: str,
        stdout: TextIO | None = None, stderr: TextIO | None = None,
        clock: Callable[[], float] = time.time, pid: Callable[[], int] = os.getpid,
        syslog_socket: str = SYSLOG_SOCKET, check: bool = True,
    ) -> Log:  # fmt: skip
        """The reference's choice (``ld_openlog``): ``-d`` and supervised ignore ``logfile``.

        Raises ``LogOpenError`` (the reference's text) when the syslog facility is unknown or,
        with ``check``, when the file cannot be appended to (``ld_openlog``'s test-open).
        """
        err = stderr if stderr is not None else sys.stderr
        sink = make_sink(debug=debug, supervised=supervised, logfile=logfile, cfgname=cfgname,
                         stdout=stdout, stderr=err, pid=pid, syslog_socket=syslog_socket,
                         check=check)  # fmt: skip
        return cls(sink, debug=debug, stderr=err, clock=clock)

    def use(self, sink: Sink) -> None:
        """Write to ``sink`` from now on (a reload that changed ``logfile``)."""
        old, self._sink = self._sink, sink
        old.close()

    def __call__(self, message: str) -> None:
        self.log(message)

    def log(self, message: str) -> None:
        """``ld_log``: one message, its single trailing newline removed."""
        message = message.removesuffix("\n")
        self.debug(2, message)
        self._sink.write(message, self._clock())

    def debug(self, level: int, message: str) -> None:
        """``ld_debug``: ``DEBUG<n>: msg`` on stderr with ``-d`` (levels above 3 never show)."""
        if self._debug and level <= 3:
            message = message.removesuffix("\n")
            StreamSink(self._stderr, stamped=False).write(f"DEBUG{level}: {message}", 0.0)

    def close(self) -> None:
        self._sink.close()


def make_sink(
    *, debug: bool, supervised: bool, logfile: str, cfgname: str,
    stdout: TextIO | None = None, stderr: TextIO | None = None,
    pid: Callable[[], int] = os.getpid, syslog_socket: str = SYSLOG_SOCKET, check: bool = True,
) -> Sink:  # fmt: skip
    """The destination ``ld_openlog`` picks; raises ``LogOpenError`` as ``Log.for_config``."""
    err = stderr if stderr is not None else sys.stderr
    if debug:
        return StreamSink(err, stamped=False)
    if supervised:
        return StreamSink(stdout if stdout is not None else sys.stdout, stamped=True)
    if logfile.startswith("/"):
        file_sink = FileSink(logfile, cfgname, pid, err)
        if check:
            file_sink.check()
        return file_sink
    return SyslogSink(logfile, pid, err, syslog_socket)


@dataclass(frozen=True, slots=True)
class LogSetup:
    """What a log needs: the config (None before it parsed), CFGNAME, ``-d``."""

    config: Config | None
    cfgname: str
    debug: bool


def make_log(setup: LogSetup) -> Log:
    """``lifecycle.Hooks.make_log``: the log for a (possibly not yet parsed) config.

    Before the config is parsed the reference logs to its default file. The parser has already
    test-opened ``logfile`` (``unable to open logfile``), so a file that fails later sends
    lines to stderr, as the reference does, and an unknown syslog facility falls back to
    ``user`` (Sys::Syslog's default) rather than losing the log.
    """
    globals_ = setup.config.globals if setup.config is not None else Globals()
    logfile = globals_.logfile
    if not logfile.startswith("/") and logfile not in _FACILITIES:
        logfile = "user"
    return Log.for_config(
        debug=setup.debug, supervised=globals_.supervised, logfile=logfile,
        cfgname=setup.cfgname, check=False,
    )  # fmt: skip
