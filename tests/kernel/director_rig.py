"""What the daemon scenarios share: the CLI, the daemon's log, the table, faults on reals.

A scenario runs the real `pyldirectord CONFIG start` in the sandbox and judges it only by what
an operator can see: the IPVS table (read with ipvsadm, not our netlink code), the log lines
(one per operation applied, in the reference's words), the CLI's exit codes, the files a
fallbackcommand or callback wrote, the mail an SMTP server received.
"""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session
from ipvsadm_text import live_weights

from sandbox import topology

DEADLINE = 30.0  # catches hangs only; latencies are printed, never asserted (decisions.md)
BINARY = str(Path(sys.executable).with_name("pyldirectord"))
VIP = topology.VIP
RUNDIR = "/run"  # the sandbox's private tmpfs: pid files of the host are never touched

# The reference's words for the operations it applies (spec 6.4); a line without one of
# them did not change the table.
OPERATIONS = ("Added ", "Changed virtual", "Deleted ", "Purged ", "Quiescent ", "Restored ",
              "Readd ")  # fmt: skip


def cli(config: Path | str, action: str, binary: str = BINARY) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, str(config), action], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def wait_until(what: str, condition: Callable[[], bool], deadline: float = DEADLINE) -> float:
    """Seconds until ``condition`` held; fails after ``deadline`` with the table in the text."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > deadline:
            raise AssertionError(f"not within {deadline:.0f}s: {what}; table {live_weights()}")
        time.sleep(0.05)
    return time.monotonic() - started


def weight_of(real: str, service: str | None = None) -> int | None:
    """Weight of ``ip:port`` (in ``service`` when given, as ipvsadm names it); None if absent."""
    for key, reals in table_snapshot().items():
        if service in (None, key) and real in reals:
            return reals[real]
    return None


def table_snapshot() -> dict[str, dict[str, int]]:
    """``TCP  ip:port`` -> {real ``ip:port`` -> weight}, from one `ipvsadm -Ln`."""
    text = subprocess.run(["ipvsadm", "-L", "-n"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    snapshot: dict[str, dict[str, int]] = {}
    current = ""
    for line in text.splitlines()[3:]:
        words = line.split()
        if line.startswith("  -> "):
            snapshot[current][words[1]] = int(words[3])
        else:
            current = f"{words[0]} {words[1]}"
            snapshot[current] = {}
    return snapshot


class DaemonLog:
    """The daemon's logfile, read as operator lines with the ``[date|cfg|pid] `` prefix cut."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[str]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        return [line.split("] ", 1)[-1] for line in text.splitlines()]

    def mark(self) -> int:
        return len(self.lines())

    def since(self, mark: int) -> list[str]:
        return self.lines()[mark:]

    def operations_since(self, mark: int) -> list[str]:
        return [line for line in self.since(mark) if line.startswith(OPERATIONS)]

    def wait_for(self, mark: int, text: str) -> float:
        return wait_until(f"log line with {text!r}",
                          lambda: any(text in line for line in self.since(mark)))  # fmt: skip


def daemon_pid(config: Path) -> int:
    return int(Path(RUNDIR, f"ldirectord.{config.name}.pid").read_text().strip())


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (the daemon, a grandchild of `start`, is
    reaped by init whenever init gets to it: dead for us already)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # ESRCH: reaped while we read it
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def terminate(pid: int, signum: int = signal.SIGTERM) -> float:
    os.kill(pid, signum)
    return wait_until(f"pid {pid} gone after signal {signum}", lambda: not alive(pid))


# --- faults on reals -------------------------------------------------------------------------


def unplug(real: topology.Real) -> None:
    """The real's IPv4 address vanishes from its netns: checks time out, as for a dead host."""
    topology.ip("addr", "del", f"{real.address}/24", "dev", "eth0", netns=real.name)


def plug(real: topology.Real) -> None:
    # Removing the address took the default route with it; put both back.
    topology.ip("addr", "replace", f"{real.address}/24", "dev", "eth0", netns=real.name)
    topology.ip("route", "replace", "default", "via", f"{topology.REAL_NET}.1", netns=real.name)


def recording_script(path: Path, record: Path) -> Path:
    """An executable that appends its arguments, one call per line, to ``record``."""
    path.write_text(f'#!/bin/sh\necho "$@" >> {record}\n')
    path.chmod(0o755)
    return path


def recorded(record: Path) -> list[str]:
    return record.read_text().splitlines() if record.exists() else []


# --- an SMTP sink on loopback ----------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    text: str  # headers and body, LF line ends


class _Handler:
    def __init__(self, inbox: queue.Queue[Mail]) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes) and envelope.mail_from is not None
        mail = Mail(envelope.mail_from, tuple(envelope.rcpt_tos),
                    content.decode().replace("\r\n", "\n"))  # fmt: skip
        self.inbox.put(mail)
        return "250 Message accepted"


class SmtpSink:
    """aiosmtpd on 127.0.0.1 (a free port) in its own thread and event loop."""

    def __init__(self) -> None:
        self.inbox: queue.Queue[Mail] = queue.Queue()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(DEADLINE):
            raise RuntimeError("SMTP sink did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        handler = _Handler(self.inbox)
        self._server = self._loop.run_until_complete(self._loop.create_server(
            lambda: SMTP(handler, hostname="sink.test"), "127.0.0.1", 0))  # fmt: skip
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    def mail_about(self, subject: str, deadline: float = DEADLINE) -> Mail:
        """The first mail with exactly this subject; mails about earlier events are skipped."""
        ends = time.monotonic() + deadline
        while True:
            mail = self.inbox.get(timeout=max(0.0, ends - time.monotonic()))
            if f"\nSubject: {subject}\n" in mail.text:
                return mail

    def close(self) -> None:
        def stop() -> None:
            if self._server is not None:
                self._server.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(stop)
        self._thread.join(timeout=10)
