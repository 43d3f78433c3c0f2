"""Alerts delivered for real: an aiosmtpd server on loopback, a fake sendmail on disk."""

from __future__ import annotations

import asyncio
import email.utils
import io
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import SMTP, Envelope, Session

from pyldirectord.config.model import Globals, Virtual
from pyldirectord.core.alertpolicy import Message, Route
from pyldirectord.core.events import EventKind, RealEvent
from pyldirectord.notify.log import Log, StreamSink
from pyldirectord.notify.mailer import Delivery, Mailer, SendmailTransport, SmtpTransport

VIP = Virtual(line=1, family=4, protocol="tcp", host="192.0.2.1", port=80,
              servicename="web", comment="front")  # fmt: skip
FAST = Delivery(timeout=2.0, attempts=3, backoff=0.05)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: str
    tls: bool


@dataclass
class Handler:
    received: list[Received] = field(default_factory=list)
    rcpt_replies: list[str] = field(default_factory=list)  # scripted replies, then 250
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes) and envelope.mail_from is not None
        text = content.decode().replace("\r\n", "\n")
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), text, session.ssl is not None)
        )
        self.arrived.set()
        return "250 Message accepted"


@dataclass
class Server:
    port: int
    handler: Handler


async def serve(tls: ssl.SSLContext | None = None) -> tuple[asyncio.Server, Server]:
    handler = Handler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="mx.test", tls_context=tls, require_starttls=False),
        "127.0.0.1", 0,
    )  # fmt: skip
    return server, Server(server.sockets[0].getsockname()[1], handler)


@pytest.fixture
async def smtpd() -> AsyncIterator[Server]:
    server, info = await serve()
    yield info
    server.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port  # closed again: nothing listens there


def make_log() -> tuple[Log, io.StringIO]:
    out = io.StringIO()
    return Log(StreamSink(out, stamped=False)), out


def mailer(globals_: Globals, log: Log, **kw: Any) -> Mailer:
    args: dict[str, Any] = {"hostname": "lb1", "user": "root", "delivery": FAST,
                            "wall_clock": lambda: 1764000000.0, **kw}  # fmt: skip
    return Mailer(globals_, log, **args)


def ev(kind: EventKind, host: str = "10.0.0.1", virtual: Virtual = VIP) -> RealEvent:
    weight = 1 if kind == "added" else 0
    return RealEvent(kind, virtual, host, 80, weight, time.monotonic())


async def wait_for(event: asyncio.Event) -> float:
    started = time.monotonic()
    async with asyncio.timeout(30):  # catches hangs only
        await event.wait()
    latency = time.monotonic() - started
    print(f"mail arrived after {latency:.3f} s")
    return latency


EXPECTED_BODY = (
    "\n"
    "ldirectord host: lb1\n"
    "Log-Message: [web] Deleted real server: 10.0.0.1:80 (192.0.2.1:80)\n"
    "Daemon-Status: running\n"
    "\n"
    "Service name: web\n"
    "Comment: front\n"
    "\n"
)


async def test_one_change_arrives_with_the_reference_layout(smtpd: Server) -> None:
    log, out = make_log()
    g = Globals(emailalert="a@example.com, b@example.com", smtp=f"127.0.0.1:{smtpd.port}")
    m = mailer(g, log)
    m.start()
    m.set_status("running")
    m.notify(ev("deleted"))
    await wait_for(smtpd.handler.arrived)
    await m.close(timeout=5)
    [got] = smtpd.handler.received
    assert got.mail_from == "root@lb1"
    assert got.rcpt_tos == ["a@example.com", "b@example.com"]  # one RCPT each
    headers, _, body = got.content.partition("\n\n")
    lines = headers.split("\n")
    assert lines[:3] == [
        "From: root@lb1",
        "To: a@example.com, b@example.com",
        "Subject: [web] Deleted real server: 10.0.0.1:80 (192.0.2.1:80)",
    ]
    assert lines[3] == "Date: " + email.utils.formatdate(1764000000.0, localtime=True)
    assert lines[4].startswith("Message-ID: <") and lines[4].endswith("@lb1>")
    assert len(lines) == 5
    assert "\n" + body == EXPECTED_BODY
    assert out.getvalue() == "emailalert: Deleted real server: 10.0.0.1:80 (192.0.2.1:80)\n"


async def test_a_burst_is_one_message_and_stop_purges_are_sent_at_close(smtpd: Server) -> None:
    log, _ = make_log()
    m = mailer(Globals(emailalert="ops@example.com", smtp=f"127.0.0.1:{smtpd.port}"), log)
    m.start()
    m.set_status("running")
    for host in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        m.notify(ev("deleted", host))
    await wait_for(smtpd.handler.arrived)
    m.set_status("stopping")
    m.notify(ev("purged-stop", "10.0.0.4"))
    await m.close(timeout=5)  # the window has not closed yet: close sends it anyway
    first, last = smtpd.handler.received
    assert "Subject: [web] 3 real server changes on lb1\n" in first.content
    assert first.content.count("Log-Message: [web] Deleted real server: ") == 3
    assert "Subject: [web] Purged real server (stop): 10.0.0.4:80 (192.0.2.1:80)\n" in last.content
    assert "Daemon-Status: stopping\n" in last.content
    assert (m.sent, m.dropped) == (2, 0)  # what /metrics reports as pyldirectord_mails_total


async def test_starttls_is_used_when_offered() -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server, info = await serve(tls=context)
    try:
        log, out = make_log()
        m = mailer(Globals(emailalert="ops@example.com", smtp=f"127.0.0.1:{info.port}"), log)
        ok = await m.deliver(Message(Route(f"127.0.0.1:{info.port}", ("ops@example.com",)),
                                     "root@lb1", "ops@example.com", "s", "b\n"))  # fmt: skip
        assert ok, out.getvalue()
        [got] = info.handler.received
        assert got.tls and got.content.endswith("\n\nb\n")
    finally:
        server.close()


async def test_smtp_down_is_logged_and_never_blocks_the_caller() -> None:
    log, out = make_log()
    port = free_port()
    m = mailer(Globals(emailalert="ops@example.com", smtp=f"127.0.0.1:{port}"), log,
               window=0.05)  # fmt: skip
    m.start()
    m.set_status("running")
    started = time.monotonic()
    for n in range(50):
        m.notify(ev("deleted", f"10.0.0.{n}"))
    assert time.monotonic() - started < 0.5  # notify never waits for the network
    started = time.monotonic()
    await m.close(timeout=10)
    elapsed = time.monotonic() - started
    print(f"close with SMTP down took {elapsed:.3f} s")
    assert elapsed < 10
    lines = out.getvalue().splitlines()
    assert lines.count("failed to send SMTP email message") == 1  # one batch, one message
    assert any(line.endswith("(attempts: 3)") for line in lines)
    assert (m.sent, m.dropped) == (0, 1)


async def test_a_silent_server_times_out_within_the_bound() -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        log, out = make_log()
        m = mailer(Globals(), log, delivery=Delivery(timeout=0.3, attempts=2, backoff=0.05))
        started = time.monotonic()
        ok = await m.deliver(Message(Route(f"127.0.0.1:{port}", ("a@example.com",)),
                                     "root@lb1", "a@example.com", "s", "b\n"))  # fmt: skip
        elapsed = time.monotonic() - started
        assert not ok and elapsed < 5, elapsed
        assert out.getvalue().startswith("failed to send SMTP email message\n")
    finally:
        server.close()


async def test_a_closed_stop_is_bounded_when_the_server_hangs() -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        log, out = make_log()
        g = Globals(emailalert="ops@example.com", smtp=f"127.0.0.1:{port}")
        m = mailer(g, log, delivery=Delivery(timeout=20, attempts=3, backoff=1))
        m.set_status("running")
        m.notify(ev("deleted"))
        started = time.monotonic()
        await m.close(timeout=0.5)
        assert time.monotonic() - started < 3
        assert "emailalert: 1 message(s) not sent at stop" in out.getvalue()
    finally:
        server.close()


async def test_temporary_refusal_is_retried_permanent_is_not(smtpd: Server) -> None:
    log, out = make_log()
    m = mailer(Globals(), log)
    msg = Message(Route(f"127.0.0.1:{smtpd.port}", ("a@example.com",)),
                  "root@lb1", "a@example.com", "s", "b\n")  # fmt: skip
    smtpd.handler.rcpt_replies = ["451 try again later"]
    assert await m.deliver(msg)
    assert len(smtpd.handler.received) == 1
    smtpd.handler.rcpt_replies = ["550 no such user", "550 no such user"]
    assert not await m.deliver(msg)
    assert smtpd.handler.rcpt_replies == ["550 no such user"]  # asked once, not retried
    assert "(attempts: 1)" in out.getvalue()


FAKE_SENDMAIL = """#!/bin/sh
echo "$@" > "{dir}/args"
cat > "{dir}/stdin"
exit {code}
"""


def fake_sendmail(tmp_path: Path, code: int = 0) -> str:
    path = tmp_path / "sendmail"
    path.write_text(FAKE_SENDMAIL.format(dir=tmp_path, code=code))
    path.chmod(0o755)
    return str(path)


async def test_without_smtp_the_message_is_piped_to_sendmail(tmp_path: Path) -> None:
    log, out = make_log()
    g = Globals(emailalert="a@example.com,b@example.com", emailalertfrom="lvs@example.com")
    m = mailer(g, log, sendmail=fake_sendmail(tmp_path), window=0.05)
    m.start()
    m.set_status("running")
    m.notify(ev("deleted", virtual=replace(VIP, servicename=None, comment=None)))
    await m.close(timeout=5)
    assert (tmp_path / "args").read_text() == "-t -oi\n"
    text = (tmp_path / "stdin").read_text()
    assert text.startswith(
        "From: lvs@example.com\nTo: a@example.com,b@example.com\n"
        "Subject: Deleted real server: 10.0.0.1:80 (192.0.2.1:80)\nDate: "
    )
    assert text.endswith(
        "\n\nldirectord host: lb1\n"
        "Log-Message: Deleted real server: 10.0.0.1:80 (192.0.2.1:80)\n"
        "Daemon-Status: running\n"
    )
    assert "failed" not in out.getvalue()


async def test_sendmail_failures(tmp_path: Path) -> None:
    log, out = make_log()
    msg = Message(Route(None, ("a@example.com",)), "root@lb1", "a@example.com", "s", "b\n")
    m = mailer(Globals(), log, sendmail=fake_sendmail(tmp_path, code=75))
    assert not await m.deliver(msg)
    assert out.getvalue().splitlines() == [
        "failed to send email message",
        "emailalert: s: exit status 75 (attempts: 3)",  # EX_TEMPFAIL: retried
    ]
    log, out = make_log()
    m = mailer(Globals(), log, sendmail=fake_sendmail(tmp_path, code=1))
    assert not await m.deliver(msg)
    assert out.getvalue().splitlines()[1].endswith("(attempts: 1)")
    (tmp_path / "sendmail").write_text("#!/nonexistent/interpreter\n")  # cannot even start
    log, out = make_log()
    m = mailer(Globals(), log, sendmail=str(tmp_path / "sendmail"))
    assert not await m.deliver(msg)
    assert out.getvalue().splitlines()[0] == "failed to send email message"


def test_transport_choice(tmp_path: Path) -> None:
    log, _ = make_log()
    sendmail = fake_sendmail(tmp_path)
    m = mailer(Globals(), log, sendmail=sendmail)
    local = m.transport(Route(None, ("a@example.com",)))
    assert isinstance(local, SendmailTransport) and local.path == sendmail
    m = mailer(Globals(), log, sendmail=str(tmp_path / "absent"))
    fallback = m.transport(Route(None, ("a@example.com",)))
    assert isinstance(fallback, SmtpTransport)
    assert (fallback.host, fallback.port) == ("localhost", 25)
    assert fallback.failure_text == "failed to send email message"  # Mail::Send's words
    for value, expected in [("mail.example.com", ("mail.example.com", 25)),
                            ("mail:2525", ("mail", 2525)), ("[::1]:2525", ("::1", 2525))]:
        t = m.transport(Route(value, ("a@example.com",)))
        assert isinstance(t, SmtpTransport) and (t.host, t.port) == expected


async def test_repeats_arrive_every_emailalertfreq_until_the_real_is_back(smtpd: Server) -> None:
    log, out = make_log()
    g = Globals(emailalert="ops@example.com", smtp=f"127.0.0.1:{smtpd.port}", emailalertfreq=1)
    m = mailer(g, log, window=0.1)
    m.start()
    m.set_status("running")
    m.notify(ev("deleted"))
    async with asyncio.timeout(30):
        while len(smtpd.handler.received) < 3:
            await asyncio.sleep(0.05)
    m.notify(ev("added"))
    await asyncio.sleep(1.5)  # one more period: no further repeat may come
    await m.close(timeout=5)
    subjects = [r.content.split("\n")[2] for r in smtpd.handler.received]
    inaccessible = "Subject: [web] Inaccessible real server: 10.0.0.1:80 (192.0.2.1:80)"
    added = "Subject: [web] Added real server: 10.0.0.1:80 (192.0.2.1:80) (Weight set to 1)"
    assert subjects[0] == "Subject: [web] Deleted real server: 10.0.0.1:80 (192.0.2.1:80)"
    # a repeat may race with the Added event; after Added, none may follow
    assert subjects[-1] == added and added not in subjects[:-1]
    assert set(subjects[1:-1]) == {inaccessible} and len(subjects) >= 4
    repeats = out.getvalue().count("emailalert: Inaccessible real server: 10.0.0.1:80")
    assert repeats == len(subjects) - 2
