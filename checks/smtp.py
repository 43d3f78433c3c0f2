"""service=smtp/submission: the 220 greeting, EHLO (HELO if refused), QUIT (spec 4.3).

No STARTTLS and no AUTH, as the reference's Net::SMTP check.
"""

from __future__ import annotations

import aiosmtplib

from pyldirectord.checks.base import CheckResult, CheckSpec, Outcome, Target, bounded

HELO_NAME = "localhost.localdomain"  # Net::SMTP's default Hello


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    return await bounded(spec.negotiatetimeout, lambda: _session(target, spec))


async def _session(target: Target, spec: CheckSpec) -> Outcome:
    client = aiosmtplib.SMTP(
        hostname=target.ip,
        port=target.port,
        timeout=spec.negotiatetimeout,
        use_tls=False,
        start_tls=False,
        local_hostname=HELO_NAME,
    )
    try:
        greeting = await client.connect()
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            await client.helo()
        await client.quit()
    except aiosmtplib.SMTPException as err:
        return False, _reason(err)
    finally:
        client.close()
    # A bare "220" greeting has no text at all: the code alone is the reason.
    first_line = next(iter(greeting.message.splitlines()), "")
    return True, f"{greeting.code} {first_line}".strip()


def _reason(err: aiosmtplib.SMTPException) -> str:
    if isinstance(err, aiosmtplib.SMTPResponseException) and err.code >= 0:
        return f"SMTP {err.code} {err.message}"
    if isinstance(err, aiosmtplib.SMTPResponseException):  # aiosmtplib's own verdict, code -1
        return f"SMTP: {err.message}"
    return f"SMTP: {err}"
