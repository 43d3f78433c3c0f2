"""ftp negotiate check against a real vsftpd (spec 4.3): RETR the request, match receive."""

from __future__ import annotations

import socket
from pathlib import Path

from ftp_server import Ftp, vsftpd_fixture  # noqa: F401  (provides `vsftpd`)
from leaks import no_leaks
from probe_config import probe_text, states

from pyldirectord.checks import ftp
from pyldirectord.checks.base import BODY_LIMIT, CheckSpec, Target


def spec(**kwargs: object) -> CheckSpec:
    values: dict[str, object] = {
        "service": "ftp", "negotiatetimeout": 10.0, "login": "anonymous",
        "passwd": "ldirectord@test", "request": "/health.txt", "receive": "alive", **kwargs,
    }  # fmt: skip
    return CheckSpec(**values)  # type: ignore[arg-type]


async def test_file_matching_receive_is_up(vsftpd: Ftp) -> None:
    async with no_leaks(servers=vsftpd.daemon.pids):
        result = await ftp.check(Target("127.0.0.1", vsftpd.port), spec())
    assert (result.ok, result.reason) == (True, "retrieved /health.txt, receive matched")


async def test_login_defaults_to_anonymous_when_empty(vsftpd: Ftp) -> None:
    """A service inferred from port 21 has no login: Net::FTP logged in as anonymous."""
    result = await ftp.check(Target("127.0.0.1", vsftpd.port), spec(login="", passwd=""))
    assert result.ok, result.reason


async def test_content_not_matching_receive_is_down(vsftpd: Ftp) -> None:
    result = await ftp.check(Target("127.0.0.1", vsftpd.port), spec(receive="dead"))
    assert (result.ok, result.reason) == (
        False, "receive 'dead' not found in /health.txt (14 bytes)"
    )  # fmt: skip


async def test_missing_file_is_down_with_the_servers_reply(vsftpd: Ftp) -> None:
    """The reference ignored Net::FTP's errors; an empty receive then still matched."""
    result = await ftp.check(Target("127.0.0.1", vsftpd.port), spec(request="/nope", receive=""))
    assert (result.ok, result.reason) == (False, "FTP 550 Failed to open file.")


async def test_refused_login_is_down(vsftpd: Ftp) -> None:
    result = await ftp.check(Target("127.0.0.1", vsftpd.port), spec(login="root", passwd="x"))
    assert not result.ok
    assert result.reason.startswith("FTP 530 ")


async def test_only_the_first_body_limit_bytes_are_read(vsftpd: Ftp) -> None:
    """The needle sits past BODY_LIMIT: never read, so never matched."""
    async with no_leaks(servers=vsftpd.daemon.pids):
        result = await ftp.check(Target("127.0.0.1", vsftpd.port),
                                 spec(request="/big.bin", receive="needle"))  # fmt: skip
    assert (result.ok, result.reason) == (
        False, f"receive 'needle' not found in /big.bin ({BODY_LIMIT} bytes)"
    )  # fmt: skip


async def test_server_stopped_is_down(vsftpd: Ftp) -> None:
    with vsftpd.daemon.stopped():
        result = await ftp.check(Target("127.0.0.1", vsftpd.port), spec())
    assert (result.ok, result.reason) == (False, "Connection refused")
    assert (await ftp.check(Target("127.0.0.1", vsftpd.port), spec())).ok


async def test_a_server_that_never_greets_is_bounded() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = int(sock.getsockname()[1])
        result = await ftp.check(Target("127.0.0.1", port), spec(negotiatetimeout=0.5))
    assert (result.ok, result.reason) == (False, "timeout after 0.5s")


async def test_probe_of_a_service_ftp_virtual(vsftpd: Ftp, tmp_path: Path) -> None:
    """service=ftp written: the parser's anonymous defaults log in (spec 8 #35)."""
    lines = await probe_text(tmp_path, (
        f"virtual=127.0.0.1:21\n\treal=127.0.0.1:{vsftpd.port} masq\n\tservice=ftp\n"
        '\trequest="/health.txt"\n\treceive="alive"\n'))  # fmt: skip
    assert states(lines) == [("negotiate:ftp", True, "retrieved /health.txt, receive matched")]
