"""``pyldirectord --probe`` against real servers on loopback: the lines it prints, its exit code,
and nothing left behind (tasks, sockets, processes) by the in-process run."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from leaks import no_leaks

from pyldirectord.cli.probe import probe, render
from pyldirectord.config.resolve import load

BINARY = str(Path(sys.executable).with_name("pyldirectord"))
LINE = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)\s+(UP|DOWN)\s+(\d+) ms\s+(.*)$")


@dataclass(frozen=True)
class Farm:
    up: int  # answers 200 "status: alive"
    failing: int  # answers 503
    slow: int  # answers after 2 s
    refused: int  # nobody listens


def make_app() -> web.Application:
    async def alive(request: web.Request) -> web.Response:
        return web.Response(text="status: alive")

    async def failing(request: web.Request) -> web.Response:
        return web.Response(status=503, text="status: alive")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="status: alive")

    app = web.Application()
    app.router.add_get("/alive", alive)
    app.router.add_get("/failing", failing)
    app.router.add_get("/slow", slow)
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def farm() -> AsyncIterator[Farm]:
    runners = []
    ports = []
    for _ in range(3):
        runner = web.AppRunner(make_app(), shutdown_timeout=0.2)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        ports.append(int(runner.addresses[0][1]))
    yield Farm(ports[0], ports[1], ports[2], free_port())
    for runner in runners:
        await runner.cleanup()


def http_virtual(port: int, path: str, reals: list[int]) -> str:
    lines = "".join(f"    real=127.0.0.1:{real} masq\n" for real in reals)
    return (f"virtual=127.0.0.1:{port}\n{lines}    service=http\n    request=\"{path}\"\n"
            '    receive="alive"\n    scheduler=rr\n\n')  # fmt: skip


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "probe.cf"
    path.write_text(f'checktimeout=1\nnegotiatetimeout=1\nlogfile="{tmp_path}/ld.log"\n{body}')
    return path


def mixed_config(tmp_path: Path, farm: Farm) -> Path:
    return write_config(tmp_path, (
        http_virtual(8001, "/alive", [farm.up, farm.refused])
        + http_virtual(8002, "/failing", [farm.failing])
        + http_virtual(8003, "/slow", [farm.slow])
        + f"virtual=127.0.0.1:8004\n    real=127.0.0.1:{farm.up} gate\n"
        f"    real=127.0.0.1:{farm.refused} gate\n    checktype=connect\n\n"
        f"virtual=127.0.0.1:8005\n    real=127.0.0.1:{farm.refused} gate\n    checktype=off\n"
    ))  # fmt: skip


def parse(text: str) -> list[tuple[str, ...]]:
    rows = []
    for line in text.splitlines():
        match = LINE.match(line)
        assert match, f"unexpected line: {line!r}"
        rows.append(match.groups())
    return rows


async def run_cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        BINARY, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(30):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def expected_rows(farm: Farm) -> list[tuple[str, str, str, str]]:
    return [
        ("tcp:127.0.0.1:8001", f"127.0.0.1:{farm.up}", "negotiate:http", "UP"),
        ("tcp:127.0.0.1:8001", f"127.0.0.1:{farm.refused}", "negotiate:http", "DOWN"),
        ("tcp:127.0.0.1:8002", f"127.0.0.1:{farm.failing}", "negotiate:http", "DOWN"),
        ("tcp:127.0.0.1:8003", f"127.0.0.1:{farm.slow}", "negotiate:http", "DOWN"),
        ("tcp:127.0.0.1:8004", f"127.0.0.1:{farm.up}", "connect", "UP"),
        ("tcp:127.0.0.1:8004", f"127.0.0.1:{farm.refused}", "connect", "DOWN"),
        ("tcp:127.0.0.1:8005", f"127.0.0.1:{farm.refused}", "off", "DOWN"),
    ]


async def test_probe_in_process_runs_each_check_once_concurrently(
    farm: Farm, tmp_path: Path
) -> None:
    config = load(str(mixed_config(tmp_path, farm)))
    async with no_leaks():
        started = time.monotonic()
        lines = await probe(config)
        took = time.monotonic() - started
    rows = parse(render(lines))
    print(render(lines), f"took {took:.2f}s")
    assert [row[:4] for row in rows] == expected_rows(farm)
    reasons = [row[5] for row in rows]
    assert reasons[0] == "200 OK"
    assert "Connection refused" in reasons[1]
    assert reasons[2].startswith("503")
    assert reasons[3] == "timeout after 1s"
    assert reasons[5] == "Connection refused"
    assert reasons[6].startswith("checktype off")
    # The 1 s timeout of the slow real is not added to the others: they ran at once.
    assert 900 <= int(rows[3][4]) < 2000
    assert took < 2.5


async def test_probe_cli_mixed_farm_exits_1(farm: Farm, tmp_path: Path) -> None:
    code, out, err = await run_cli("--probe", str(mixed_config(tmp_path, farm)))
    print(out, err)
    assert code == 1, err
    assert [row[:4] for row in parse(out)] == expected_rows(farm)


async def test_probe_cli_all_up_exits_0(farm: Farm, tmp_path: Path) -> None:
    config = write_config(tmp_path, http_virtual(8001, "/alive", [farm.up]) + (
        f"virtual=127.0.0.1:8004\n    real=127.0.0.1:{farm.failing} gate\n"
        "    checktype=connect\n"))  # fmt: skip
    code, out, err = await run_cli("--probe", str(config))
    print(out, err)
    assert code == 0, err
    assert [row[3] for row in parse(out)] == ["UP", "UP"]


async def test_probe_cli_bad_config_is_reported_like_check_config(tmp_path: Path) -> None:
    config = write_config(tmp_path, "bogus=1\n")
    code, out, err = await run_cli("--probe", str(config))
    assert (code, out) == (1, "")
    assert err == f"{config}:4: error: Unknown command bogus=1\n"
    code, out, err = await run_cli("--probe", str(tmp_path / "missing.cf"))
    assert (code, out) == (1, "")
    assert err == f"{tmp_path}/missing.cf:0: error: Config file {tmp_path}/missing.cf not found\n"
