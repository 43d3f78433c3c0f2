"""HTTP and HTTPS checks against real aiohttp servers on loopback (TLS certificates by trustme)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
import trustme
from aiohttp import web
from leaks import no_leaks

from pyldirectord.checks.base import CheckSpec, Target, bounded
from pyldirectord.checks.http import HttpChecker

BIG = 10 * 1024 * 1024


@dataclass
class Seen:
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, Host
    sni: list[str | None] = field(default_factory=list)


def make_app(seen: Seen) -> web.Application:
    async def record(request: web.Request) -> None:
        seen.requests.append((request.method, request.path, request.headers.get("Host", "")))

    async def ok(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(text="hello world, status: alive")

    async def redirect(request: web.Request) -> web.Response:
        await record(request)
        raise web.HTTPFound("/ok")

    async def loop_forever(request: web.Request) -> web.Response:
        await record(request)
        raise web.HTTPFound("/loop")

    async def error(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(status=500, text="broken")

    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(50):  # 10 s at most, far past any test timeout
            await response.write(b"x")
            await asyncio.sleep(0.2)
        return response

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"START" + b"." * BIG + b"END")

    app = web.Application()
    app.router.add_route("*", "/ok", ok)
    app.router.add_get("/redir", redirect)
    app.router.add_get("/loop", loop_forever)
    app.router.add_get("/error", error)
    app.router.add_get("/slow", slow)
    app.router.add_get("/big", big)
    return app


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def serve(app: web.Application, ssl_context: ssl.SSLContext | None) -> web.AppRunner:
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    return runner


def port_of(runner: web.AppRunner) -> int:
    addresses = runner.addresses
    return int(addresses[0][1])


@pytest.fixture
async def server() -> AsyncIterator[tuple[Seen, int]]:
    seen = Seen()
    runner = await serve(make_app(seen), None)
    yield seen, port_of(runner)
    await runner.cleanup()


@pytest.fixture
async def tls_server(ca: trustme.CA) -> AsyncIterator[tuple[Seen, int]]:
    seen = Seen()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "www.example.test").configure_cert(context)

    def record_sni(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        seen.sni.append(name)

    context.sni_callback = record_sni
    runner = await serve(make_app(seen), context)
    yield seen, port_of(runner)
    await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[HttpChecker]:
    async with HttpChecker() as checker:
        yield checker


def spec(**kwargs: object) -> CheckSpec:
    values: dict[str, object] = {"service": "http", "negotiatetimeout": 2.0, **kwargs}
    return CheckSpec(**values)  # type: ignore[arg-type]


async def test_200_and_receive_matches(server: tuple[Seen, int], http: HttpChecker) -> None:
    seen, port = server
    async with no_leaks():
        result = await http.check(Target("127.0.0.1", port), spec(request="/ok", receive="al.ve"))
    assert (result.ok, result.reason) == (True, "200 OK")
    assert seen.requests == [("GET", "/ok", "127.0.0.1")]


async def test_200_but_receive_not_found(server: tuple[Seen, int], http: HttpChecker) -> None:
    _, port = server
    result = await http.check(Target("127.0.0.1", port), spec(request="/ok", receive="dead"))
    assert not result.ok
    assert result.reason == "200 OK, but receive 'dead' not found in the body"


async def test_redirect_followed_without_the_host_header(
    server: tuple[Seen, int], http: HttpChecker
) -> None:
    seen, port = server
    result = await http.check(
        Target("127.0.0.1", port), spec(request="/redir", virtualhost="www.example.test")
    )
    assert (result.ok, result.reason) == (True, "200 OK")
    # As LWP: the explicit Host goes with the first request only.
    assert seen.requests == [
        ("GET", "/redir", "www.example.test"),
        ("GET", "/ok", f"127.0.0.1:{port}"),
    ]


async def test_redirect_loop_stops_after_seven(server: tuple[Seen, int], http: HttpChecker) -> None:
    seen, port = server
    result = await http.check(Target("127.0.0.1", port), spec(request="/loop"))
    assert (result.ok, result.reason) == (False, "302 Found (more than 7 redirects)")
    assert len(seen.requests) == 8


async def test_404_and_500(server: tuple[Seen, int], http: HttpChecker) -> None:
    _, port = server
    target = Target("127.0.0.1", port)
    missing = await http.check(target, spec(request="/nothing"))
    error = await http.check(target, spec(request="/error"))
    assert (missing.ok, missing.reason) == (False, "404 Not Found")
    assert (error.ok, error.reason) == (False, "500 Internal Server Error")


async def test_head_method_and_head_with_receive(
    server: tuple[Seen, int], http: HttpChecker
) -> None:
    seen, port = server
    target = Target("127.0.0.1", port)
    plain = await http.check(target, spec(request="/ok", httpmethod="HEAD"))
    with_receive = await http.check(target, spec(request="/ok", httpmethod="HEAD", receive="a"))
    assert (plain.ok, plain.reason) == (True, "200 OK")
    assert not with_receive.ok
    assert with_receive.reason == "200 OK, but HEAD returns no body to match receive"
    assert [method for method, _, _ in seen.requests] == ["HEAD", "HEAD"]


async def test_host_header_is_the_virtualhost(server: tuple[Seen, int], http: HttpChecker) -> None:
    seen, port = server
    await http.check(Target("127.0.0.1", port), spec(request="/ok", virtualhost="www.x.y"))
    assert seen.requests == [("GET", "/ok", "www.x.y")]


def free_port() -> int:
    """A port nobody listens on: bound then closed, so a connect is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused(http: HttpChecker) -> None:
    port = free_port()
    async with no_leaks():
        result = await http.check(Target("127.0.0.1", port), spec())
    assert not result.ok
    assert result.reason == f"500 Can't connect to 127.0.0.1:{port} (Connection refused)"


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A listener that never accepts: the kernel completes handshakes, nobody ever answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


async def test_blackhole_times_out(blackhole: int, http: HttpChecker) -> None:
    async with no_leaks():
        result = await http.check(Target("127.0.0.1", blackhole), spec(negotiatetimeout=0.5))
    assert (result.ok, result.reason) == (False, "timeout after 0.5s")
    assert 0.5 <= result.elapsed < 4.0  # generous: only catches a missing bound


async def test_slow_body_trickling_past_the_timeout(
    server: tuple[Seen, int], http: HttpChecker
) -> None:
    _, port = server
    async with no_leaks():
        result = await http.check(
            Target("127.0.0.1", port), spec(request="/slow", negotiatetimeout=0.6)
        )
    assert (result.ok, result.reason) == (False, "timeout after 0.6s")
    assert result.elapsed < 4.0  # generous: only catches a missing bound (loaded CI)


async def test_10_mb_body_is_read_only_up_to_the_limit(
    server: tuple[Seen, int], http: HttpChecker
) -> None:
    _, port = server
    target = Target("127.0.0.1", port)
    async with no_leaks():
        start = await http.check(target, spec(request="/big", receive="^START"))
        end = await http.check(target, spec(request="/big", receive="END"))
    assert (start.ok, start.reason) == (True, "200 OK")
    # The marker lies past the 64 KiB the check reads.
    assert (end.ok, end.reason) == (False, "200 OK, but receive 'END' not found in the body")


async def test_https_without_virtualhost_sends_no_sni(
    tls_server: tuple[Seen, int], http: HttpChecker
) -> None:
    seen, port = tls_server
    async with no_leaks():
        result = await http.check(Target("127.0.0.1", port), spec(service="https", request="/ok"))
    assert (result.ok, result.reason) == (True, "200 OK")
    assert seen.sni == [None]
    assert seen.requests == [("GET", "/ok", "127.0.0.1")]


async def test_https_sni_is_the_virtualhost(
    tls_server: tuple[Seen, int], http: HttpChecker
) -> None:
    seen, port = tls_server
    result = await http.check(
        Target("127.0.0.1", port),
        spec(service="https", request="/ok", virtualhost="www.example.test"),
    )
    assert (result.ok, result.reason) == (True, "200 OK")
    assert seen.sni == ["www.example.test"]
    assert seen.requests == [("GET", "/ok", "www.example.test")]


async def test_https_verification_is_opt_in(tls_server: tuple[Seen, int], ca: trustme.CA) -> None:
    _, port = tls_server
    target = Target("127.0.0.1", port)
    verify = spec(service="https", request="/ok", virtualhost="www.example.test", verify_tls=True)
    trusting_context = ssl.create_default_context()
    ca.configure_trust(trusting_context)
    async with no_leaks():  # the sessions too: nothing of theirs survives close()
        async with HttpChecker() as untrusting:
            refused = await untrusting.check(target, verify)
        async with HttpChecker(verify_context=trusting_context) as trusting:
            accepted = await trusting.check(target, verify)
            wrong_name = await trusting.check(
                target, spec(service="https", virtualhost="other.test", verify_tls=True)
            )
    assert not refused.ok
    assert refused.reason.startswith(f"500 Can't connect to 127.0.0.1:{port} (certificate verify")
    assert (accepted.ok, accepted.reason) == (True, "200 OK")
    assert not wrong_name.ok
    assert "certificate verify failed" in wrong_name.reason


async def test_tls_handshake_failure(server: tuple[Seen, int], http: HttpChecker) -> None:
    _, port = server  # a plain HTTP server: it answers the ClientHello with an HTTP 400
    async with no_leaks():
        result = await http.check(Target("127.0.0.1", port), spec(service="https"))
    assert not result.ok
    assert result.reason.startswith(f"500 Can't connect to 127.0.0.1:{port} (TLS handshake failed")


@pytest.fixture
async def server6() -> AsyncIterator[tuple[Seen, int]]:
    seen = Seen()
    runner = web.AppRunner(make_app(seen), shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "::1", 0)
    await site.start()
    yield seen, int(runner.addresses[0][1])
    await runner.cleanup()


async def test_ipv6_real_host_header_bracketed(
    server6: tuple[Seen, int], http: HttpChecker
) -> None:
    seen, port = server6
    async with no_leaks():
        result = await http.check(Target("::1", port), spec(request="/ok", receive="alive"))
    assert (result.ok, result.reason) == (True, "200 OK")
    assert seen.requests == [("GET", "/ok", "[::1]")]


async def test_per_real_absolute_url_overrides_the_real(
    server: tuple[Seen, int], http: HttpChecker
) -> None:
    seen, port = server
    # The real's own port is closed: the check goes where the real= line's URL says.
    real = Target("127.0.0.1", free_port())
    url_spec = spec(request=f"/http://127.0.0.1:{port}/ok", per_real_request=True)
    result = await http.check(real, url_spec)
    assert (result.ok, result.reason) == (True, "200 OK")
    assert seen.requests == [("GET", "/ok", "127.0.0.1")]  # Host: the real IP, as the reference


async def test_many_concurrent_checks_leave_nothing_behind(
    server: tuple[Seen, int], blackhole: int, http: HttpChecker
) -> None:
    _, port = server
    refused = free_port()
    targets = [Target("127.0.0.1", p) for p in (port, refused, blackhole) for _ in range(60)]
    async with no_leaks():
        results = await asyncio.gather(
            *(http.check(target, spec(request="/ok", negotiatetimeout=0.5)) for target in targets)
        )
    reasons = sorted({result.reason for result in results})
    assert reasons == [
        "200 OK",
        f"500 Can't connect to 127.0.0.1:{refused} (Connection refused)",
        "timeout after 0.5s",
    ]


async def test_http_proxy_sends_the_absolute_url_through_the_real(
    server: tuple[Seen, int], http: HttpChecker
) -> None:
    """The real is the proxy: it receives the absolute URL (nothing else is contacted)."""
    seen, port = server
    proxy_spec = spec(service="http_proxy", request="/http://www.example.test/ok")
    result = await http.check(Target("127.0.0.1", port), proxy_spec)
    assert (result.ok, result.reason) == (True, "200 OK")
    assert seen.requests == [("GET", "/ok", "www.example.test")]


@pytest.fixture
async def raw_server() -> AsyncIterator[tuple[list[bytes], int]]:
    """Reads the request head, answers with the next scripted bytes, closes."""
    replies: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(replies.pop(0))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield replies, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_garbage_and_silent_close(
    raw_server: tuple[list[bytes], int], http: HttpChecker
) -> None:
    replies, port = raw_server
    replies.extend([b"\x05\x00garbage\r\n\r\n", b""])
    target = Target("127.0.0.1", port)
    async with no_leaks():
        garbage = await http.check(target, spec())
        silent = await http.check(target, spec())
    assert (garbage.ok, garbage.reason) == (False, "500 invalid HTTP response (Bad status line)")
    assert (silent.ok, silent.reason) == (
        False,
        "500 Server closed connection without sending any data back",
    )


@pytest.mark.parametrize(
    ("request_path", "virtualhost", "method"),
    [("/", "", "GET"), ("/a b?x=\u00e9&y", "www.example.test", "GET"), ("/x#frag", "", "HEAD"),
     ("/%41?q=%zz", "", "GET")],
)  # fmt: skip
async def test_the_lean_path_sends_the_bytes_aiohttp_sends(
    http: HttpChecker, request_path: str, virtualhost: str, method: str
) -> None:
    """The lean plain-http check (checks/httpflight.py) and the aiohttp path put the same
    request on the wire: a real (or its access log) cannot tell them apart."""
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    target = Target("127.0.0.1", server.sockets[0].getsockname()[1])
    checked = spec(request=request_path, virtualhost=virtualhost, httpmethod=method)
    assert http.flight_factory(target, checked) is not None  # this check takes the lean path
    lean = await http.check(target, checked)
    aiohttp_path = await bounded(2.0, lambda: http._negotiate(target, checked))
    server.close()
    await server.wait_closed()
    assert lean.ok and aiohttp_path.ok
    assert len(received) == 2 and received[0] == received[1]
