"""The lean path of a plain ``service=http`` check: one socket, one request, a C parser.

Most HTTP checks are a GET to the real's own address, one response, a status and a
``receive`` match. For those, ``HttpFlight`` does the exchange as a ``Flight`` on the engine's
epoll set (checks/engine.py): a non-blocking connect, the request written in one ``send``,
the reply fed to httptools' llhttp parser as it arrives, and the same verdicts and reasons
as the aiohttp path (checks/http.py), which it hands over to for the rare rest: a redirect
is followed there, and a costly ``receive`` match finishes in its worker thread. https,
http_proxy and absolute per-real URLs always take the aiohttp path.

The request bytes are the ones aiohttp sends for the same check (same request line, Host,
User-Agent, Accept and Connection headers), built once per real, not per check.
The reply is bounded as everywhere: at most ``BODY_LIMIT`` bytes of body are read and
judged, and headers longer than ``HEADER_LIMIT`` are an invalid reply.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httptools
import yarl

from pyldirectord.checks.base import BODY_LIMIT, CheckSpec, Outcome, Target, os_error_reason
from pyldirectord.checks.connect import connect_failure, connect_reason, start_connect
from pyldirectord.checks.engine import Flight

HEADER_LIMIT = 64 * 1024
MAX_HEADERS = 128  # aiohttp's bound, and its wording when a reply goes over it
RECV_SIZE = 64 * 1024
_EVENTS = select.EPOLLOUT | select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET
_READABLE = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR


@dataclass(frozen=True, slots=True)
class LeanRequest:
    """What a real's plain-http check sends and how its failures are worded (built once)."""

    target: Target
    spec: CheckSpec
    url: str
    request: bytes
    netloc: str  # host:port, as "500 Can't connect to host:port (...)" names it


def lean_request(target: Target, spec: CheckSpec, url: str, host: str, user_agent: str
                 ) -> LeanRequest | None:  # fmt: skip
    """The lean request for this check, or None when it needs the aiohttp path."""
    if spec.service != "http" or not url.startswith(f"http://{target.host}:{target.port}/"):
        return None  # https, http_proxy, an absolute per-real URL elsewhere
    path = yarl.URL(url).raw_path_qs
    lines = [
        f"{spec.httpmethod} {path} HTTP/1.1", f"Host: {host}", f"User-Agent: {user_agent}",
        "Accept: */*", "Connection: close", "", "",
    ]  # fmt: skip
    try:
        request = "\r\n".join(lines).encode("ascii")
    except UnicodeEncodeError:
        return None  # a non-ASCII virtualhost: aiohttp encodes it as it does
    return LeanRequest(target, spec, url, request, f"{target.host}:{target.port}")


# After a reply: the final outcome, or the work (a redirect, a costly match) to hand over.
Judge = Callable[[LeanRequest, int, str, str | None, bytes],
                 Outcome | Callable[[], Awaitable[Outcome]]]  # fmt: skip


class TooManyHeaders(Exception):
    """Raised from the parser's header callback: stops the parse at the bound."""


class HttpFlight(Flight):
    """One plain-http check in flight: connect, send, parse, judge (``judge`` decides)."""

    __slots__ = (
        "_body",
        "_complete",
        "_headers",
        "_headers_done",
        "_judge",
        "_lean",
        "_location",
        "_parser",
        "_past_status",
        "_reason",
        "_seen",
        "_sent",
        "_size",
        "_sock",
    )  # fmt: skip

    def __init__(self, lean: LeanRequest, judge: Judge) -> None:
        self._lean, self._judge = lean, judge
        self._sock: socket.socket | None = None
        self._sent = 0
        self._parser = httptools.HttpResponseParser(self)
        self._reason = ""
        self._location: str | None = None
        self._body: list[bytes] = []
        self._size = 0  # body bytes kept
        self._seen = 0  # bytes received in all
        self._past_status = False
        self._headers = 0
        self._headers_done = False
        self._complete = False

    # --- the flight ----------------------------------------------------------------------

    def begin(self) -> None:
        self._sock, code = start_connect(self._lean.target)
        if self._sock is None:
            self.finish(False, self._cannot_connect(code))
            return
        self.watch(self._sock.fileno(), _EVENTS)

    def on_ready(self, events: int) -> None:
        sock = self._sock
        assert sock is not None
        request = self._lean.request
        if self._sent < len(request):
            if not self._sent:
                code = connect_failure(sock, events)
                if code:
                    self.finish(False, self._cannot_connect(code))
                    return
            try:
                self._sent += sock.send(request[self._sent :] if self._sent else request)
            except BlockingIOError:
                return
            except OSError as err:
                self.finish(False, f"500 {os_error_reason(err)}")
                return
            if self._sent < len(request) or not events & _READABLE:
                return  # the rest goes at the next writable edge; the reply comes later
        if events & _READABLE:
            self._read(sock)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # --- httptools' callbacks ------------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self._past_status = True
        self._reason += status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._past_status = True
        self._headers += 1
        if self._headers > MAX_HEADERS:
            raise TooManyHeaders
        if name.lower() == b"location":
            self._location = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._headers_done = True
        if self._lean.spec.httpmethod == "HEAD":
            self._complete = True  # no body follows a HEAD, whatever Content-Length says

    def on_body(self, body: bytes) -> None:
        room = BODY_LIMIT - self._size
        if room > 0:
            self._body.append(body[:room])
            self._size += min(len(body), room)

    def on_message_complete(self) -> None:
        self._complete = True

    # --- inside --------------------------------------------------------------------------

    def _read(self, sock: socket.socket) -> None:
        while True:
            try:
                data = sock.recv(RECV_SIZE)
            except BlockingIOError:
                return  # the rest comes with the next readable edge
            except OSError as err:
                self.finish(False, f"500 {os_error_reason(err)}")
                return
            if not data:
                self._at_eof()
                return
            self._seen += len(data)
            try:
                self._parser.feed_data(data)
            except httptools.HttpParserError as err:  # ours from a callback comes wrapped
                self.finish(False, self._invalid(err))
                return
            if self._complete or self._size >= BODY_LIMIT:
                self._judged()
                return
            if not self._headers_done and self._seen > HEADER_LIMIT:
                self.finish(False, f"500 invalid HTTP response (headers over {HEADER_LIMIT} bytes)")
                return

    def _at_eof(self) -> None:
        if not self._seen:
            self.finish(False, "500 Server closed connection without sending any data back")
        elif not self._headers_done:
            self.finish(False, "500 invalid HTTP response (the reply ends within its headers)")
        else:
            self._judged()  # a body up to EOF (no Content-Length): what came is judged

    def _judged(self) -> None:
        status = self._parser.get_status_code()
        verdict = self._judge(self._lean, status, self._reason, self._location,
                              b"".join(self._body))  # fmt: skip
        if isinstance(verdict, tuple):
            self.finish(*verdict)
        else:
            self.hand_off(verdict)

    def _cannot_connect(self, code: int) -> str:
        return f"500 Can't connect to {self._lean.netloc} ({connect_reason(code)})"

    def _invalid(self, err: httptools.HttpParserError) -> str:
        if self._headers > MAX_HEADERS:
            return "500 invalid HTTP response (Too many headers received)"
        # Worded as aiohttp's parser words a bad first line, so both paths read alike.
        what = str(err).splitlines()[0] if self._past_status else ""
        return f"500 invalid HTTP response ({what[:80] or 'Bad status line'})"
