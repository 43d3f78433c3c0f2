"""service=ldap/ldaps: bind, read the request's entry, match its DN (spec 4.3).

ldap3 in a worker thread (its synchronous strategy; there is no maintained asyncio LDAP
client). As the reference: bind with login/passwd when both are set, else anonymously; search
base = request minus its leading ``/``, scope base, filter ``(objectClass=*)``; up iff exactly
one entry comes back and ``receive`` is empty or matches its DN. The reasons are the
reference's monitor messages. The verdict is bounded by checktimeout (the reference's alarm),
the library's socket operations by negotiatetimeout, and what the server sends by ``BODY_LIMIT``.
"""

from __future__ import annotations

import contextlib
import math
import socket
import ssl
from typing import Any

import ldap3
import ldap3.core.exceptions
import regex

from pyldirectord.checks.base import (
    BODY_LIMIT,
    CheckResult,
    CheckSpec,
    Outcome,
    Target,
    strip_slash,
)
from pyldirectord.checks.blocking import in_thread, library_timeout
from pyldirectord.checks.receive import MATCH_TIMEOUT, match_timeout_reason
from pyldirectord.config.receive import ReceiveError, compile_text


class ReplyTooLarge(OSError):
    """The server sent more than a base-scope search can need."""


class CappedSocket:
    """The connection's socket, refusing to receive more than ``limit`` bytes in all."""

    def __init__(self, sock: socket.socket, limit: int) -> None:
        self._sock, self._left = sock, limit

    def recv(self, size: int) -> bytes:
        if self._left <= 0:
            raise ReplyTooLarge(f"reply larger than {BODY_LIMIT} bytes")
        data = self._sock.recv(min(size, self._left))
        self._left -= len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    return await in_thread(spec.checktimeout, lambda: session(target, spec))


def session(target: Target, spec: CheckSpec) -> Outcome:
    try:
        pattern = compile_text(spec.receive)
    except ReceiveError as err:
        return False, str(err)
    timeout = library_timeout(spec.negotiatetimeout, spec.checktimeout)
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED if spec.verify_tls else ssl.CERT_NONE)
    server = ldap3.Server(target.ip, port=target.port, use_ssl=spec.service == "ldaps",
                          tls=tls, get_info=ldap3.NONE, connect_timeout=timeout)  # fmt: skip
    credentials = (spec.login, spec.passwd) if spec.login and spec.passwd else (None, None)
    connection = ldap3.Connection(server, user=credentials[0], password=credentials[1],
                                  # ldap3 packs it as whole seconds (SO_RCVTIMEO)
                                  receive_timeout=max(1, math.ceil(timeout)), read_only=True,
                                  raise_exceptions=False)  # fmt: skip
    try:
        return _bind_and_search(connection, spec, pattern)
    finally:
        with contextlib.suppress(ldap3.core.exceptions.LDAPException, OSError):
            connection.unbind()


def _bind_and_search(connection: ldap3.Connection, spec: CheckSpec, pattern: regex.Pattern[str]
                     ) -> Outcome:  # fmt: skip
    try:
        connection.open()
    except Exception:
        return False, "Connection failed"
    connection.socket = CappedSocket(connection.socket, BODY_LIMIT)
    try:
        if not connection.bind():
            return False, f"Bind failed: {connection.result.get('description', '')}".rstrip(": ")
    except Exception:  # ldap3's errors, and its KeyErrors on a reply that is not LDAP
        return False, "Bind failed"
    try:
        connection.search(strip_slash(spec.request), "(objectClass=*)", ldap3.BASE,
                          attributes=["1.1"], size_limit=2)  # fmt: skip
    except Exception:
        return False, "No answer received"
    entries = [e for e in connection.response or [] if e.get("type") == "searchResEntry"]
    if len(entries) != 1:
        return False, "No answer received"
    if spec.receive:
        dn = str(entries[0].get("dn", ""))
        try:
            # This runs in a worker thread: the match may take the whole bound, never the loop.
            matched = pattern.search(dn, timeout=MATCH_TIMEOUT)
        except TimeoutError:
            return False, match_timeout_reason(spec.receive, len(dn), MATCH_TIMEOUT)
        if matched is None:
            return False, "Response mismatch"
    return True, "Success"
