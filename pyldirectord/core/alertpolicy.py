"""Email alerts: which changes mail whom and when, and the messages' text. Pure.

The policy follows ``ld_emailalert_send`` (spec 5): the repeat list is updated first, then
``emailalertstatus`` is matched against the daemon's status, then the recipients decide. The
texts are the reference's. Our deliberate differences (docs/compatibility-alerts.md):

* each address of ``emailalert`` is its own ``RCPT TO`` (the reference sends the whole comma
  list as one invalid address);
* changes for the same recipients within one second are batched into one message; a change
  alone in its window gets exactly the reference's subject and body;
* ``Date:`` and ``Message-ID:`` headers are added.

The sending is ``notify/mailer.py``'s.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field

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

BATCH_WINDOW = 1.0


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
