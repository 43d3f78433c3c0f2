"""Under a low open-files limit a big farm's checks queue for descriptors instead of failing
with "Too many open files": `--probe` with 300 live reals under ``ulimit -n 256`` (soft and
hard) reports every real UP, and a limit too low for any check is a clear refusal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_probe_cli import BINARY, parse

REALS = [f"127.0.1.{n}" for n in range(1, 201)] + [f"127.0.2.{n}" for n in range(1, 101)]


@pytest.fixture
async def farm() -> AsyncIterator[int]:
    """One HTTP/1.0-ish server listening on 300 loopback addresses (one port)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            # A little slow, so that many checks are in flight at once.
            await asyncio.sleep(0.2)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nalive")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        writer.close()

    server = await asyncio.start_server(answer, REALS[0], 0)
    port = int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()
    server = await asyncio.start_server(answer, REALS, port, backlog=512)
    yield port
    server.close()
    await server.wait_closed()


def config_text(tmp_path: Path, port: int) -> str:
    reals = "".join(f"    real={host}:{port} masq\n" for host in REALS)
    return (
        f'negotiatetimeout=10\nlogfile="{tmp_path}/ld.log"\n'
        f'virtual=127.0.0.1:80\n{reals}    service=http\n    receive="alive"\n'
    )


async def probe_under_ulimit(limit: int, config: Path) -> tuple[int, str, str]:
    # `ulimit -n N` sets the soft and the hard limit: nothing can raise it back.
    script = f'ulimit -n {limit} && exec "$0" --probe "$1"'
    process = await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", script, BINARY, str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_300_reals_under_ulimit_256_are_all_up(farm: int, tmp_path: Path) -> None:
    config = tmp_path / "big.cf"
    config.write_text(config_text(tmp_path, farm))
    code, out, err = await probe_under_ulimit(256, config)
    rows = parse(out)
    down = [row for row in rows if row[3] != "UP"]
    print(f"{len(rows)} reals, {len(down)} down", *down[:5], err, sep="\n")
    assert (code, len(rows), down) == (0, 300, [])


async def test_a_limit_too_low_for_any_check_is_refused_clearly(tmp_path: Path) -> None:
    config = tmp_path / "small.cf"
    config.write_text(config_text(tmp_path, 9))
    code, out, err = await probe_under_ulimit(40, config)
    assert (code, out) == (1, "")
    assert err.startswith("the open files limit is too low: the hard limit (ulimit -Hn) is 40")
    assert "Traceback" not in err
