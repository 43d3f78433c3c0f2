"""service=pop/pops: the POP3 greeting, then USER/PASS when a login is set, QUIT (spec 4.3).

poplib (the standard library) in a worker thread: there is no maintained asyncio POP3 client.
Its lines are bounded (2 KiB), and its socket timeout is the negotiate timeout.

Unlike the reference, a dead server is down even without a login: Mail::POP3Client's
constructor always returned an object, so a login-less pop check was always up.
"""

from __future__ import annotations

import poplib

from pyldirectord.checks.base import CheckResult, CheckSpec, Outcome, Target
from pyldirectord.checks.blocking import in_thread, tls_context


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    return await in_thread(spec.negotiatetimeout, lambda: session(target, spec))


def session(target: Target, spec: CheckSpec) -> Outcome:
    timeout = spec.negotiatetimeout
    try:
        if spec.service == "pops":
            context = tls_context(spec.verify_tls)
            client: poplib.POP3 = poplib.POP3_SSL(
                target.ip, target.port, timeout=timeout, context=context
            )
        else:
            client = poplib.POP3(target.ip, target.port, timeout=timeout)
    except poplib.error_proto as err:
        return False, f"POP3 greeting: {_text(err)}"
    try:
        greeting = client.getwelcome().decode("utf-8", "replace")
        if spec.login:
            client.user(spec.login)
            client.pass_(spec.passwd)
        client.quit()
    except poplib.error_proto as err:
        return False, f"POP3 {_text(err)}"
    finally:
        client.close()
    return True, f"logged in as {spec.login}" if spec.login else greeting


def _text(err: poplib.error_proto) -> str:
    reply = err.args[0] if err.args else b""
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
