"""service=http/https/http_proxy negotiate checks over one shared aiohttp session (spec 4.3).

A plain-http check to the real itself takes the lean path (checks/httpflight.py) and never
touches aiohttp: aiohttp is imported, and the session made, by the first check that needs it
(https, http_proxy, a redirect), so a farm of plain-http checks spares its ~20 MB.

The caller creates one ``HttpChecker`` and closes it at shutdown; every check reuses its
connector, so thousands of reals cost one session. Each check still opens its own connection
(``force_close``), as LWP does: a real that stopped accepting is seen at once.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from pyldirectord.checks.base import (
    CheckResult,
    CheckSpec,
    Outcome,
    Target,
    bounded,
    os_error_reason,
    read_bounded,
    strip_slash,
)
from pyldirectord.checks.engine import Flight, run_flight
from pyldirectord.checks.httpflight import HttpFlight, LeanRequest, lean_request
from pyldirectord.checks.receive import search_bytes, search_bytes_in_slice
from pyldirectord.config.receive import ReceiveError

if TYPE_CHECKING:
    import aiohttp

# LWP::UserAgent's defaults: it follows redirects of GET and HEAD, at most 7, to any host.
MAX_REDIRECTS = 7
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "pyldirectord (ldirectord-compatible health check)"


def build_url(target: Target, spec: CheckSpec) -> str:
    """The URL ldirectord's ld_setup builds for a real (spec 4.3)."""
    schema = "https" if spec.service == "https" else "http"
    if spec.service == "http_proxy" and not spec.per_real_request:
        return strip_slash(spec.request)
    if spec.per_real_request and f"{schema}://" in spec.request:
        return strip_slash(spec.request)
    return f"{schema}://{target.host}:{target.port}/{strip_slash(spec.request)}"


def host_header(target: Target, spec: CheckSpec) -> str:
    """``virtualhost`` else the real's IP: no port, IPv6 bracketed (the reference's choice)."""
    return spec.virtualhost or target.host


class HttpChecker:
    """Owns the shared session; ``async with HttpChecker() as http: await http.check(t, s)``."""

    def __init__(self, verify_context: ssl.SSLContext | None = None) -> None:
        # Built once: creating a default context loads the system CA store (milliseconds).
        self._verify_context = verify_context
        self._session: aiohttp.ClientSession | None = None
        self._open = False

    async def __aenter__(self) -> HttpChecker:
        self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def open(self) -> None:
        """Ready for checks (the aiohttp session itself is made by the first that needs it)."""
        self._open = True

    def _aiohttp_session(self) -> aiohttp.ClientSession:
        if not self._open:
            raise RuntimeError("HttpChecker.check() called before open()")
        if self._session is None:
            import aiohttp

            connector = aiohttp.TCPConnector(limit=0, force_close=True, use_dns_cache=False)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                cookie_jar=aiohttp.DummyCookieJar(),  # like LWP without a jar: no state kept
                auto_decompress=False,  # receive runs over the raw body, as the reference's
                skip_auto_headers=("Accept-Encoding",),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def close(self) -> None:
        self._open = False
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def check(self, target: Target, spec: CheckSpec) -> CheckResult:
        flight = self.flight_factory(target, spec)
        if flight is not None:
            return await run_flight(flight(), spec.negotiatetimeout)
        return await bounded(spec.negotiatetimeout, lambda: self._negotiate(target, spec))

    def flight_factory(self, target: Target, spec: CheckSpec) -> Callable[[], Flight] | None:
        """A maker of lean flights for this real (checks/httpflight.py), or None when its
        check needs aiohttp (https, http_proxy, an absolute per-real URL)."""
        url = build_url(target, spec)
        lean = lean_request(target, spec, url, host_header(target, spec), USER_AGENT)
        if lean is None:
            return None
        judge_lean = self._judge_lean
        return lambda: HttpFlight(lean, judge_lean)

    def _ssl(self, spec: CheckSpec) -> ssl.SSLContext | bool:
        if not spec.verify_tls:
            return False
        if self._verify_context is None:
            self._verify_context = ssl.create_default_context()
        return self._verify_context

    async def _negotiate(self, target: Target, spec: CheckSpec) -> Outcome:
        url = build_url(target, spec)
        proxied = spec.service == "http_proxy"
        headers = {} if proxied else {"Host": host_header(target, spec)}
        proxy = f"http://{target.host}:{target.port}/" if proxied else None
        return await self._hops(url, spec, headers, proxy, spec.virtualhost or None, 0)

    async def _hops(
        self, url: str, spec: CheckSpec, headers: dict[str, str], proxy: str | None,
        sni: str | None, first: int,
    ) -> Outcome:  # fmt: skip
        """Requests from hop ``first`` on, following redirects as LWP does."""
        import aiohttp  # the first such check imports it (see the module's docstring)

        for hop in range(first, MAX_REDIRECTS + 1):
            try:
                status, reason, location, body = await self._fetch(url, spec, headers, proxy, sni)
            except aiohttp.ClientError as err:
                return False, failure_reason(url, err)
            except ValueError as err:
                # A URL aiohttp cannot request: a host that is no valid IDNA name (``a..b``,
                # UnicodeError) and the like, typically from a server's Location header.
                return False, f"500 cannot request {url!r}: {err}"
            if status not in REDIRECT_STATUSES or not location:
                return await judge(status, reason, body, spec)
            step = next_hop(url, status, reason, location, hop)
            if isinstance(step, tuple):
                return step
            # LWP drops the explicit Host header on a redirect; the virtualhost SNI goes too.
            url, headers, sni = step, {}, None
        raise AssertionError("unreachable: the loop returns on its last hop")

    def _judge_lean(
        self, lean: LeanRequest, status: int, reason: str, location: str | None, body: bytes
    ) -> Outcome | Callable[[], Awaitable[Outcome]]:
        """The lean flight's reply: its verdict, or the rest of the work for the coroutine
        path (a redirect to follow, a receive match that needs more than the loop's slice)."""
        spec = lean.spec
        if status in REDIRECT_STATUSES and location:
            step = next_hop(lean.url, status, reason, location, 0)
            if isinstance(step, tuple):
                return step
            return lambda: contained(self._hops(step, spec, {}, None, None, 1))
        outcome = judge_now(status, reason, body, spec)
        if outcome is None:
            return lambda: contained(judge(status, reason, body, spec))
        return outcome

    async def _fetch(
        self,
        url: str,
        spec: CheckSpec,
        headers: dict[str, str],
        proxy: str | None,
        sni: str | None,
    ) -> tuple[int, str, str | None, bytes]:
        async with self._aiohttp_session().request(
            spec.httpmethod,
            url,
            headers=headers,
            proxy=proxy,
            ssl=self._ssl(spec),
            server_hostname=sni,
            allow_redirects=False,
        ) as response:
            body = b"" if spec.httpmethod == "HEAD" else await read_bounded(response.content)
            location = response.headers.get("Location")
            return response.status, response.reason or "", location, body


def next_hop(url: str, status: int, reason: str, location: str, hop: int) -> Outcome | str:
    """Where redirect number ``hop`` leads, or the verdict when it leads nowhere."""
    if hop == MAX_REDIRECTS:
        return False, f"{status} {reason} (more than {MAX_REDIRECTS} redirects)"
    try:
        return urljoin(url, location)
    except ValueError as err:  # e.g. ``http://[::1``: Invalid IPv6 URL
        return False, f"{status} {reason}, but Location {location!r} is invalid: {err}"


async def judge(status: int, reason: str, body: bytes, spec: CheckSpec) -> Outcome:
    """Up iff 2xx and (receive empty or it matches the bounded raw body)."""
    line = f"{status} {reason}".strip()
    early = judge_without_match(line, status, spec)
    if early is not None:
        return early
    try:
        matched = await search_bytes(spec.receive, body)
    except ReceiveError as err:
        return False, str(err)
    return matched_outcome(line, matched, spec)


def judge_now(status: int, reason: str, body: bytes, spec: CheckSpec) -> Outcome | None:
    """``judge`` within the loop's slice; None when the receive match needs more time."""
    line = f"{status} {reason}".strip()
    early = judge_without_match(line, status, spec)
    if early is not None:
        return early
    try:
        matched = search_bytes_in_slice(spec.receive, body)
    except ReceiveError as err:
        return False, str(err)
    return None if matched is None else matched_outcome(line, matched, spec)


def judge_without_match(line: str, status: int, spec: CheckSpec) -> Outcome | None:
    if not 200 <= status < 300:
        return False, line
    if not spec.receive:
        return True, line
    if spec.httpmethod == "HEAD":
        # The reference: a HEAD check with a receive string is always down (no body).
        return False, f"{line}, but HEAD returns no body to match receive"
    return None


def matched_outcome(line: str, matched: bool, spec: CheckSpec) -> Outcome:
    if not matched:
        return False, f"{line}, but receive {spec.receive!r} not found in the body"
    return True, line


async def contained(work: Awaitable[Outcome]) -> Outcome:
    """A handed-over part of a lean check: an OSError is the real's, worded as ``bounded``."""
    try:
        return await work
    except OSError as err:
        return False, os_error_reason(err)


def failure_reason(url: str, err: aiohttp.ClientError) -> str:
    """LWP-like synthetic 500s: ``500 Can't connect to 127.0.0.1:81 (Connection refused)``."""
    import aiohttp

    if isinstance(err, aiohttp.ClientConnectorCertificateError):
        cause = f"certificate verify failed: {err.certificate_error}"
        return f"500 Can't connect to {_netloc(url)} ({cause})"
    if isinstance(err, aiohttp.ClientConnectorError):
        return f"500 Can't connect to {_netloc(url)} ({os_error_reason(err.os_error)})"
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return "500 Server closed connection without sending any data back"
    if isinstance(err, aiohttp.ClientOSError):
        return f"500 {os_error_reason(err)}"
    if isinstance(err, aiohttp.ClientResponseError):
        # aiohttp's parser message spans lines and quotes the bytes: its first line says it.
        first_line = err.message.splitlines()[0].rstrip(":") if err.message else "unparsable"
        return f"500 invalid HTTP response ({first_line[:80]})"
    return f"500 {type(err).__name__}: {str(err)[:200]}"


def _netloc(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url
