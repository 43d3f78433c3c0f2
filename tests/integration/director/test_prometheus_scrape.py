"""A real Prometheus server (Debian's `prometheus`) scrapes a running director's /metrics every
second; after a real fails, its query API shows the transition and the real's weight at 0.
Prometheus runs on loopback with a private config, storage dir and port, and is stopped at
the end."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from status_rig import DEADLINE, VIP, free_port, running_director

PROMETHEUS = shutil.which("prometheus")


@asynccontextmanager
async def prometheus(directory: Path, target: str) -> AsyncIterator[str]:
    assert PROMETHEUS is not None, "needs Debian's prometheus (make apt installs it)"
    port = free_port()
    config = directory / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: pyldirectord\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    log = (directory / "prometheus.log").open("w")
    process = await asyncio.create_subprocess_exec(
        PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
        stdout=log, stderr=log,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(DEADLINE):
            while True:
                try:
                    async with session.get(f"{base}/-/ready") as reply:
                        if reply.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                assert process.returncode is None, (directory / "prometheus.log").read_text()
                await asyncio.sleep(0.2)
        yield base
    finally:
        process.terminate()
        await process.wait()
        log.close()


async def query(base: str, expression: str) -> list[dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.get(
        f"{base}/api/v1/query", params={"query": expression}
    ) as reply:
        document = await reply.json()
    assert document["status"] == "success", document
    result: list[dict[str, object]] = document["data"]["result"]
    return result


async def value_of(base: str, expression: str) -> float | None:
    result = await query(base, expression)
    if not result:
        return None
    value = result[0]["value"]
    assert isinstance(value, list)
    return float(value[1])


async def wait_value(base: str, expression: str, wanted: float) -> float:
    started = time.monotonic()
    async with asyncio.timeout(DEADLINE):
        while await value_of(base, expression) != wanted:
            await asyncio.sleep(0.5)
    return time.monotonic() - started


async def test_prometheus_sees_a_real_fail(tmp_path: Path) -> None:
    async with running_director(tmp_path) as rig, prometheus(
        tmp_path, rig.base.removeprefix("http://")
    ) as base:
        victim = rig.reals[2]
        where = f'virtual="tcp:{VIP}:80",real="{victim.address}"'
        await wait_value(base, f"pyldirectord_real_up{{{where}}}", 1.0)
        assert await value_of(base, 'up{job="pyldirectord"}') == 1.0
        victim.failing = True
        seen = await wait_value(base, f'pyldirectord_real_transitions_total{{{where},to="down"}}',
                                1.0)  # fmt: skip
        assert await value_of(base, f'pyldirectord_real_state{{{where},state="down"}}') == 1.0
        # the counter moves with the health change; the weight with the next table pass
        await wait_value(base, f"pyldirectord_real_weight{{{where}}}", 0.0)
        failures = await value_of(
            base, 'sum(pyldirectord_check_failures_total{check="negotiate:http"})'
        )
        assert failures is not None and failures >= 1
        print(f"prometheus showed the transition {seen:.1f}s after the real began to fail")
