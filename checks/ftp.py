"""service=ftp: log in, RETR the request in binary passive mode, match receive (spec 4.3).

aioftp (asyncio). As the reference: login/passwd as configured (``service=ftp`` defaults them
to anonymous in the parser; an empty login is Net::FTP's ``anonymous``), the request path is
retrieved as written (its leading ``/`` kept), and the check is up iff the downloaded data
matches ``receive``. Unlike the reference, a failure to connect, log in or retrieve is down
with its reason (Net::FTP's errors were ignored and the empty download matched against
``receive``); an empty ``receive`` is up iff the retrieval succeeded. Only the first
``BODY_LIMIT`` bytes are read.
"""

from __future__ import annotations

import aioftp

from pyldirectord.checks.base import (
    CheckResult,
    CheckSpec,
    Outcome,
    Target,
    bounded,
    read_bounded,
)
from pyldirectord.checks.receive import search_bytes
from pyldirectord.config.receive import ReceiveError, compile_bytes

ANONYMOUS = ("anonymous", "-anonymous@")  # Net::FTP's login() with no user


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    return await bounded(spec.negotiatetimeout, lambda: _retrieve(target, spec))


async def _retrieve(target: Target, spec: CheckSpec) -> Outcome:
    try:
        compile_bytes(spec.receive)  # a bad pattern is down before any I/O
    except ReceiveError as err:
        return False, str(err)
    login, passwd = (spec.login, spec.passwd) if spec.login else ANONYMOUS
    timeout = spec.negotiatetimeout
    client = aioftp.Client(socket_timeout=timeout, connection_timeout=timeout,
                           encoding="latin-1")  # fmt: skip
    try:
        await client.connect(target.ip, target.port)
        await client.login(login, passwd)
        stream = await client.download_stream(spec.request)
        try:
            data = await read_bounded(stream)
        finally:
            stream.close()
    except aioftp.StatusCodeError as err:
        return False, f"FTP {_reply(err)}"
    except (OSError, TimeoutError):
        raise  # bounded() words these
    except Exception as err:  # aioftp on a reply that is not FTP at all
        return False, f"FTP: {type(err).__name__}: {err}"
    finally:
        client.close()
    try:
        matched = await search_bytes(spec.receive, data)
    except ReceiveError as err:
        return False, str(err)
    if matched:
        return True, f"retrieved {spec.request}, receive matched"
    return False, f"receive {spec.receive!r} not found in {spec.request} ({len(data)} bytes)"


def _reply(err: aioftp.StatusCodeError) -> str:
    codes = ",".join(str(code) for code in err.received_codes)
    lines = [err.info] if isinstance(err.info, str) else err.info
    info = " ".join(line.strip() for line in lines)
    return f"{codes} {info}".strip()
