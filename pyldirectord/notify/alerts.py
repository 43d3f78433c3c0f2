"""Email alerts: which changes mail whom and when (pure), and the sending (the edge).

The policy follows ``ld_emailalert_send`` (spec 5): the repeat list is updated first, then
``emailalertstatus`` is matched against the daemon's status, then the recipients decide. The
texts are the reference's. Our deliberate differences (decisions.md, spec 9.8):

* each address of ``emailalert`` is its own ``RCPT TO`` (the reference sends the whole comma
  list as one invalid address);
* changes for the same recipients within one second are batched into one message; a change
  alone in its window gets exactly the reference's subject and body;
* ``Date:`` and ``Message-ID:`` headers are added;
* ``smtp=host:port`` is honoured, STARTTLS is used when offered (opportunistic, unverified,
  as between mail servers); without ``smtp``, ``/usr/sbin/sendmail -t -oi`` when present,
  else SMTP to localhost:25, like the reference's Mail::Send;
* a send has a timeout and bounded retries, and never blocks the director.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import pwd
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pyldirectord.config.model import (
    Config,
    DaemonStatus,
    Globals,
    Virtual,
    effective_emailalert,
    effective_emailalertfreq,
    effective_emailalertstatus,
    effective_smtp,
    virtual_id,
)
from pyldirectord.core.events import RealEvent
from pyldirectord.notify.log import Log

SENDMAIL = "/usr/sbin/sendmail"
SMTP_PORT = 25
BATCH_WINDOW = 1.0


# --- the pure policy ----------------------------------------------------------------------


def mail_domain(hostname: str) -> str:
    """The host part of our envelope sender: the hostname when it is a valid domain name.

    A host whose name is unset ("(none)", as in a container or a sandbox kernel) would give
    ``root@(none)``, which SMTP servers refuse as malformed; ``localhost`` is accepted.
    """
    valid = re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?", hostname)
    return hostname if valid else "localhost"


def split_recipients(emailalert: str) -> tuple[str, ...]:
    """Each address of the ``emailalert`` list, for its own ``RCPT TO``."""
    return tuple(addr for _, addr in email.utils.getaddresses([emailalert]) if addr)


@dataclass(frozen=True, slots=True)
class Route:
    """Where a message goes: an ``smtp`` server (None: the local mailer) and the recipients."""

    smtp: str | None
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Alert:
    """One accepted ``ld_emailalert_send``: the reference's subject and body for it."""

    route: Route
    to: str  # the emailalert string, verbatim, for the To: header
    log_subject: str  # logged as "emailalert: <log_subject>" (no servicename prefix)
    subject: str
    servicename: str | None
    body: str


@dataclass(frozen=True, slots=True)
class Message:
    """One email to send; ``alerts`` > 1 for a batch."""

    route: Route
    sender: str  # From: header
    to: str
    subject: str
    body: str
    alerts: int = 1


@dataclass(slots=True)
class _Repeat:
    virtual: Virtual
    last: float


@dataclass(slots=True)
class _Batch:
    deadline: float
    alerts: list[Alert] = field(default_factory=list)


def reference_body(
    hostname: str, subject: str, status: DaemonStatus, servicename: str | None,
    comment: str | None,
) -> str:  # fmt: skip
    """The body ``ld_emailalert_net_smtp`` writes (spec 5.4), byte for byte."""
    body = f"ldirectord host: {hostname}\nLog-Message: {subject}\nDaemon-Status: {status}\n"
    details = (f"Service name: {servicename}\n" if servicename else "") + (
        f"Comment: {comment}\n" if comment else ""
    )
    return body + (f"\n{details}\n" if details else "")


class AlertPolicy:
    """Events and ticks in, messages out. No clock, socket or file: ``now`` is passed in."""

    def __init__(
        self, globals_: Globals, *, hostname: str, user: str, window: float = BATCH_WINDOW
    ) -> None:
        self._globals = globals_
        self.hostname = hostname
        self.envelope_from = f"{user}@{mail_domain(hostname)}"
        self._window = window
        self._repeats: dict[str, _Repeat] = {}
        self._batches: dict[Route, _Batch] = {}

    @property
    def sender(self) -> str:
        return self._globals.emailalertfrom or self.envelope_from

    def repeat_keys(self) -> list[str]:
        return list(self._repeats)

    def event(self, event: RealEvent, status: DaemonStatus, now: float) -> Alert | None:
        """Record a change; the alert it mails, if any (then log ``emailalert: ...``)."""
        freq = effective_emailalertfreq(event.virtual, self._globals)
        if event.remembered and freq > 0:
            self._repeats[event.repeat_key] = _Repeat(event.virtual, now)
        else:
            self._repeats.pop(event.repeat_key, None)
        return self._accept(event.virtual, event.subject(), status, now)

    def repeats_due(self, now: float, status: DaemonStatus) -> list[Alert]:
        """``ld_emailalert_resend``: ``Inaccessible real server`` for each entry now due."""
        alerts = []
        for key, repeat in self._repeats.items():
            if now - repeat.last < effective_emailalertfreq(repeat.virtual, self._globals):
                continue
            repeat.last = now
            alert = self._accept(repeat.virtual, f"Inaccessible real server: {key}", status, now)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def due(self, now: float) -> list[Message]:
        """The batches whose window has closed, as messages."""
        closed = [route for route, batch in self._batches.items() if batch.deadline <= now]
        return [self._message(self._batches.pop(route).alerts) for route in closed]

    def drain(self) -> list[Message]:
        """Every pending batch at once (at shutdown)."""
        messages = [self._message(batch.alerts) for batch in self._batches.values()]
        self._batches.clear()
        return messages

    def next_deadline(self) -> float | None:
        """When ``due`` or ``repeats_due`` will next have something; None: nothing pending."""
        times = [batch.deadline for batch in self._batches.values()]
        times += [
            repeat.last + effective_emailalertfreq(repeat.virtual, self._globals)
            for repeat in self._repeats.values()
        ]
        return min(times, default=None)

    def reconfigure(self, config: Config) -> None:
        """A reload: new globals; repeats follow their virtual by id, or end with it."""
        self._globals = config.globals
        by_id = {virtual_id(v): v for v in config.virtuals}
        for key, repeat in list(self._repeats.items()):
            virtual = by_id.get(virtual_id(repeat.virtual))
            if virtual is None or effective_emailalertfreq(virtual, self._globals) == 0:
                del self._repeats[key]
            else:
                repeat.virtual = virtual

    def _accept(
        self, virtual: Virtual, subject: str, status: DaemonStatus, now: float
    ) -> Alert | None:
        if status not in effective_emailalertstatus(virtual, self._globals):
            return None
        to = effective_emailalert(virtual, self._globals)
        recipients = split_recipients(to) if to else ()
        if not to or not recipients:
            return None
        full = f"[{virtual.servicename}] {subject}" if virtual.servicename else subject
        body = reference_body(self.hostname, full, status, virtual.servicename, virtual.comment)
        route = Route(effective_smtp(virtual, self._globals), recipients)
        alert = Alert(route, to, subject, full, virtual.servicename, body)
        batch = self._batches.setdefault(route, _Batch(now + self._window))
        batch.alerts.append(alert)
        return alert

    def _message(self, alerts: list[Alert]) -> Message:
        first = alerts[0]
        if len(alerts) == 1:
            return Message(first.route, self.sender, first.to, first.subject, first.body)
        names = {alert.servicename for alert in alerts}
        prefix = f"[{first.servicename}] " if len(names) == 1 and first.servicename else ""
        subject = f"{prefix}{len(alerts)} real server changes on {self.hostname}"
        body = "\n\n".join(alert.body.rstrip("\n") for alert in alerts) + "\n"
        return Message(first.route, self.sender, first.to, subject, body, len(alerts))


def render(message: Message, *, date: str, message_id: str) -> str:
    """The reference's header block plus ``Date`` and ``Message-ID``, then the body."""
    return (
        f"From: {message.sender}\nTo: {message.to}\nSubject: {message.subject}\n"
        f"Date: {date}\nMessage-ID: {message_id}\n\n{message.body}"
    )


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
            self._log.log(f"emailalert: queue full, dropped: {message.subject}")

    async def _run_sender(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                await self.deliver(message)
            except Exception as err:  # a bug here must not stop later alerts
                self._log.log(f"emailalert: unexpected error: {err!r}")
            finally:
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
