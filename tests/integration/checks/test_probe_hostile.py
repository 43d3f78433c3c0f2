"""``pyldirectord --probe`` against hostile servers on loopback: every trigger that once raised
inside a check prints a line (DOWN with its reason, or UP), never a traceback; a check that
raises anyway is a DOWN line naming the error."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from hostile import hostile_server, http_reply, replies
from test_mysql_hostile import truncated_handshake
from test_probe_cli import parse, run_cli

from pyldirectord.checks.base import CheckFn, CheckResult, CheckSpec, Target
from pyldirectord.checks.registry import Checkers
from pyldirectord.cli.probe import run_plans
from pyldirectord.config.resolve import load
from pyldirectord.core.checkplan import check_plans


async def smtp_220(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 \x1b[31mmx\r\n")
    await writer.drain()
    while line := await reader.readline():
        writer.write(b"221 bye\r\n" if line.startswith(b"QUIT") else b"250 ok\r\n")
        await writer.drain()


def virtual(port: int, real: int, settings: str) -> str:
    return f"virtual=127.0.0.1:{port}\n    real=127.0.0.1:{real} masq\n{settings}\n"


async def test_probe_cli_prints_a_line_for_each_hostile_server(tmp_path: Path) -> None:
    redirect = http_reply(b"HTTP/1.1 302 Found", b"Location: http://[::1\r\n")
    idna = http_reply(b"HTTP/1.1 301 Moved", b"Location: http://a..b/\r\n")
    costly = http_reply(b"HTTP/1.1 200 OK", body=b"a" * 65_000 + b"!")
    suicide = tmp_path / "rt-signal.sh"  # an external check killed by SIGRTMIN+6
    suicide.write_text(f"#!/bin/sh\nkill -{signal.SIGRTMIN + 6} $$\n")
    suicide.chmod(0o755)
    async with (
        hostile_server(smtp_220) as smtp_port,
        hostile_server(redirect) as redirect_port,
        hostile_server(idna) as idna_port,
        hostile_server(costly) as costly_port,
        hostile_server(truncated_handshake) as mysql_port,
        hostile_server(replies(b"")) as silent_port,
    ):
        body = (
            virtual(8001, smtp_port, "    service=smtp")
            + virtual(8002, redirect_port, "    service=http")
            + virtual(8003, idna_port, "    service=http")
            + virtual(8004, costly_port, '    service=http\n    receive="(a+)+$"')
            + virtual(
                8005,
                mysql_port,
                '    service=mysql\n    login="u"\n    passwd="p"\n    request="SELECT 1"',
            )
            + virtual(
                8006,
                silent_port,
                '    service=simpletcp\n    request="x"\n    receive="^[[:alpha:]]+$"',
            )
            + virtual(8007, 80, f"    checktype=external\n    checkcommand={suicide}")
        )
        config = tmp_path / "hostile.cf"
        config.write_text(f'negotiatetimeout=5\nlogfile="{tmp_path}/ld.log"\n{body}')
        code, out, err = await run_cli("--probe", str(config))
    print(out, err)
    assert "Traceback" not in out + err
    assert "\x1b" not in out
    rows = parse(out)
    states = [row[3] for row in rows]
    reasons = [row[5] for row in rows]
    assert code == 1
    assert states == ["UP", "DOWN", "DOWN", "DOWN", "DOWN", "DOWN", "DOWN"]
    assert reasons[0] == "220 \\x1b[31mmx"
    assert "Invalid IPv6 URL" in reasons[1]
    assert "idna" in reasons[2]
    assert "ran over" in reasons[3]
    assert reasons[4].startswith("MySQL: malformed reply from the server")
    assert reasons[5] == "no reply"
    assert reasons[6] == "killed by signal SIGRTMIN+6"


class RaisingCheckers(Checkers):
    def lookup(self, checktype: str, service: str, protocol: str) -> CheckFn:
        async def check(target: Target, spec: CheckSpec) -> CheckResult:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

        return check


async def test_probe_of_a_check_that_raises_is_a_down_line(tmp_path: Path) -> None:
    config_path = tmp_path / "one.cf"
    config_path.write_text(virtual(8001, 9, "    service=http"))
    plans = list(check_plans(load(str(config_path))).values())
    async with RaisingCheckers() as checkers:
        results = await run_plans(plans, checkers, None)
    (result,) = results.values()
    assert not result.ok
    assert result.reason == (
        "check failed: UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0: "
        "invalid start byte"
    )
