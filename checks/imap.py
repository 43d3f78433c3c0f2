"""service=imap/imaps: the IMAP greeting, then LOGIN when a login is set, LOGOUT (spec 4.3).

imaplib (the standard library) in a worker thread, as Net::IMAP::Simple was used: a bounded
line reader (imaplib caps a line at 1 MB) and a socket timeout of the negotiate timeout.
"""

from __future__ import annotations

import contextlib
import imaplib

from pyldirectord.checks.base import CheckResult, CheckSpec, Outcome, Target
from pyldirectord.checks.blocking import in_thread, tls_context


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    return await in_thread(spec.negotiatetimeout, lambda: session(target, spec))


def session(target: Target, spec: CheckSpec) -> Outcome:
    timeout = spec.negotiatetimeout
    try:
        if spec.service == "imaps":
            context = tls_context(spec.verify_tls)
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                target.ip, target.port, ssl_context=context, timeout=timeout
            )
        else:
            client = imaplib.IMAP4(target.ip, target.port, timeout=timeout)
    except imaplib.IMAP4.error as err:
        return False, f"IMAP greeting: {_text(err)}"
    try:
        greeting = client.welcome.decode("utf-8", "replace")
        if spec.login:
            client.login(spec.login, spec.passwd)
        client.logout()
    except imaplib.IMAP4.error as err:
        return False, f"IMAP {_text(err)}"
    finally:
        with contextlib.suppress(OSError):
            client.shutdown()
    return True, f"logged in as {spec.login}" if spec.login else greeting


def _text(err: imaplib.IMAP4.error) -> str:
    """imaplib raises with the server's bytes, or its own text."""
    reply = err.args[0] if err.args else ""
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
