"""Email alerts, the edge: the mailer the director holds, and the transports.

``core/alertpolicy.py`` decides which changes mail whom and when; this module sends what it
decides without ever blocking the director: ``smtp=host:port`` through aiosmtplib, STARTTLS
when offered (opportunistic, unverified, as between mail servers); without ``smtp``,
``/usr/sbin/sendmail -t -oi`` when present, else SMTP to localhost:25, like the reference's
Mail::Send. A send has a timeout and bounded retries.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import pwd
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pyldirectord.config.model import Config, DaemonStatus, Globals
from pyldirectord.core.alertpolicy import BATCH_WINDOW, AlertPolicy, Message, Route, render
from pyldirectord.core.events import RealEvent
from pyldirectord.notify.log import Log

SENDMAIL = "/usr/sbin/sendmail"
SMTP_PORT = 25


# --- the edge: transports -----------------------------------------------------------------


class SendError(Exception):
    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


class Transport(Protocol):
    failure_text: str  # the reference's log line when a message is finally lost

    async def send(self, sender: str, recipients: tuple[str, ...], data: bytes) -> None: ...


def parse_smtp(value: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` (the port is our extension; default 25)."""
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit() and (host.startswith("[") or ":" not in host):
        return host.strip("[]"), int(port)
    return value.strip("[]"), SMTP_PORT


class SmtpTransport:
    def __init__(
        self, host: str, port: int, *, timeout: float, local_hostname: str,
        failure_text: str = "failed to send SMTP email message",
    ) -> None:  # fmt: skip
        self.host, self.port = host, port
        self.failure_text = failure_text
        self._timeout = timeout
        self._local_hostname = local_hostname

    async def send(self, sender: str, recipients: tuple[str, ...], data: bytes) -> None:
        # Imported on the first alert: most directors never mail, and the import is slow on
        # a slow file system while `start` waits for the daemon.
        import aiosmtplib

        smtp = aiosmtplib.SMTP(
            hostname=self.host, port=self.port, timeout=self._timeout, start_tls=None,
            validate_certs=False, local_hostname=self._local_hostname,
        )  # fmt: skip
        try:
            async with asyncio.timeout(self._timeout), smtp:
                refused, _ = await smtp.sendmail(sender, list(recipients), data)
        except aiosmtplib.SMTPRecipientsRefused as err:
            codes = [r.code for r in err.recipients]
            raise SendError(f"recipients refused: {err}", retryable=_transient(codes)) from err
        except aiosmtplib.SMTPResponseException as err:
            raise SendError(f"{err.code} {err.message}", retryable=err.code < 500) from err
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
            raise SendError(str(err) or type(err).__name__, retryable=True) from err
        if refused:  # some recipients got it; retrying would mail them twice
            raise SendError(f"recipients refused: {sorted(refused)}", retryable=False)


def _transient(codes: list[int]) -> bool:
    return any(400 <= code < 500 for code in codes)


class SendmailTransport:
    failure_text = "failed to send email message"
    _EX_TEMPFAIL = 75

    def __init__(self, path: str, *, timeout: float) -> None:
        self.path = path
        self._timeout = timeout

    async def send(self, sender: str, recipients: tuple[str, ...], data: bytes) -> None:
        # -t: recipients from the headers, as Mail::Send does; -oi: a lone "." is text
        try:
            proc = await asyncio.create_subprocess_exec(
                self.path, "-t", "-oi", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )  # fmt: skip
        except OSError as err:
            raise SendError(f"{self.path}: {err.strerror}", retryable=False) from err
        try:
            async with asyncio.timeout(self._timeout):
                _, stderr = await proc.communicate(data)
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise SendError(f"{self.path} timed out", retryable=True) from exc
        if proc.returncode != 0:
            reason = stderr.decode(errors="replace").strip() or f"exit status {proc.returncode}"
            raise SendError(reason, retryable=proc.returncode == self._EX_TEMPFAIL)


# --- the edge: the mailer the director holds ----------------------------------------------


def _login_name() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


@dataclass(frozen=True, slots=True)
class Delivery:
    """How hard to try: per-attempt timeout, attempts, first backoff (doubling)."""

    timeout: float = 30.0
    attempts: int = 3
    backoff: float = 2.0
    queue_size: int = 1000


class Mailer:
    """Takes events from the director without ever blocking it, and mails in the background.

    ``notify`` is synchronous and cheap; a timer task closes batch windows and fires repeats;
    one sender task delivers messages in order, each with a timeout and bounded retries.
    """

    def __init__(
        self, globals_: Globals, log: Log, *, hostname: str | None = None,
        user: str | None = None, sendmail: str = SENDMAIL, delivery: Delivery | None = None,
        clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time,
        window: float = BATCH_WINDOW,
    ) -> None:  # fmt: skip
        hostname = hostname if hostname is not None else socket.gethostname()
        user = user if user is not None else _login_name()
        self.policy = AlertPolicy(globals_, hostname=hostname, user=user, window=window)
        self.status: DaemonStatus = "starting"
        self._log = log
        self._sendmail = sendmail
        self._delivery = delivery or Delivery()
        self._clock = clock
        self._wall_clock = wall_clock
        self._queue: asyncio.Queue[Message] = asyncio.Queue(self._delivery.queue_size)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._unsent = 0  # queued or being delivered
        self.sent = 0  # messages delivered (for the metrics)
        self.dropped = 0  # messages lost: queue full, or refused after the retries

    def start(self) -> None:
        """Start the background tasks (inside the running loop)."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run_timer(), name="alerts-timer"),
                asyncio.create_task(self._run_sender(), name="alerts-sender"),
            ]

    def set_status(self, status: DaemonStatus) -> None:
        """The daemon's status (``emailalertstatus`` filter and ``Daemon-Status:`` line)."""
        self.status = status

    def notify(self, event: RealEvent) -> None:
        """One IPVS change the director made; returns at once."""
        alert = self.policy.event(event, self.status, self._clock())
        if alert is not None:
            self._log.log(f"emailalert: {alert.log_subject}")
        self._wake.set()

    def reconfigure(self, config: Config) -> None:
        self.policy.reconfigure(config)
        self._wake.set()

    async def close(self, timeout: float = 10.0) -> None:
        """Send what is pending (stop-time purges included), waiting at most ``timeout``."""
        self.start()  # a mailer never started still owes its pending alerts
        self._tasks[0].cancel()  # the timer: no new batches or repeats from here on
        for message in self.policy.drain():
            self._enqueue(message)
        try:
            async with asyncio.timeout(timeout):
                await self._queue.join()
        except TimeoutError:
            self._log.log(f"emailalert: {self._unsent} message(s) not sent at stop")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _run_timer(self) -> None:
        while True:
            try:
                self._tick(self._clock())
            except Exception as err:  # a bug here must not end alerting for good
                self._log.log(f"emailalert: unexpected error: {err!r}")
                await asyncio.sleep(1.0)
            deadline = self.policy.next_deadline()
            self._wake.clear()
            delay = None if deadline is None else max(0.0, deadline - self._clock())
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _tick(self, now: float) -> None:
        for alert in self.policy.repeats_due(now, self.status):
            self._log.log(f"emailalert: {alert.log_subject}")
        for message in self.policy.due(now):
            self._enqueue(message)

    def _enqueue(self, message: Message) -> None:
        try:
            self._queue.put_nowait(message)
            self._unsent += 1
        except asyncio.QueueFull:
            self.dropped += 1
            self._log.log(f"emailalert: queue full, dropped: {message.subject}")

    async def _run_sender(self) -> None:
        while True:
            message = await self._queue.get()
            delivered = False
            try:
                delivered = await self.deliver(message)
            except Exception as err:  # a bug here must not stop later alerts
                self._log.log(f"emailalert: unexpected error: {err!r}")
            finally:
                if delivered:
                    self.sent += 1
                else:
                    self.dropped += 1
                self._unsent -= 1
                self._queue.task_done()

    def transport(self, route: Route) -> Transport:
        """``smtp`` if set; else sendmail if installed; else SMTP to localhost:25."""
        timeout = self._delivery.timeout
        if route.smtp is None and os.access(self._sendmail, os.X_OK):
            return SendmailTransport(self._sendmail, timeout=timeout)
        if route.smtp is None:  # standing in for Mail::Send: its failure text
            return SmtpTransport(
                "localhost", SMTP_PORT, timeout=timeout, local_hostname=self.policy.hostname,
                failure_text=SendmailTransport.failure_text,
            )  # fmt: skip
        host, port = parse_smtp(route.smtp)
        return SmtpTransport(host, port, timeout=timeout, local_hostname=self.policy.hostname)

    async def deliver(self, message: Message) -> bool:
        """Send one message with retries; log and return False when it is lost."""
        transport = self.transport(message.route)
        attempts = max(1, self._delivery.attempts)
        data = render(
            message, date=email.utils.formatdate(self._wall_clock(), localtime=True),
            message_id=email.utils.make_msgid("ldirectord", domain=self.policy.hostname),
        ).encode("utf-8", errors="replace")  # fmt: skip
        for attempt in range(1, attempts + 1):
            try:
                await transport.send(self.policy.envelope_from, message.route.recipients, data)
                return True
            except SendError as err:
                if not err.retryable or attempt == attempts:
                    self._log.log(transport.failure_text)
                    self._log.log(f"emailalert: {message.subject}: {err} (attempts: {attempt})")
                    return False
            await asyncio.sleep(self._delivery.backoff * 2 ** (attempt - 1))
        return False
