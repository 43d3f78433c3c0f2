"""The HTTP status listener and the health-event log of a running director (real HTTP reals
on loopback, the listener bound on loopback, an in-memory IPVS table): what /status, /metrics
and / say before and after a real fails, and the transition's line in the event log."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from status_rig import DEADLINE, HOSTILE_REASON, VIP, Rig, running_director


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by (name, sorted labels)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples}  # fmt: skip


async def status_of(rig: Rig) -> dict[str, dict[str, object]]:
    code, headers, body = await rig.get("/status")
    assert code == 200 and headers["Content-Type"].startswith("application/json")
    document = json.loads(body)
    return {real["real"]: real for virtual in document["virtuals"] for real in virtual["reals"]}


async def wait_status(rig: Rig, real: str, state: str) -> dict[str, object]:
    async with asyncio.timeout(DEADLINE):
        while (seen := (await status_of(rig))[real])["state"] != state:
            await asyncio.sleep(0.2)  # the listener serves a snapshot at most 1 s old
    return seen


async def test_status_metrics_page_and_event_log_follow_a_failing_real(tmp_path: Path) -> None:
    async with running_director(tmp_path) as rig:
        victim = rig.reals[1]
        for real in rig.reals:
            await wait_status(rig, real.address, "up")
        before = await status_of(rig)
        assert [before[r.address]["weight"] for r in rig.reals] == [10, 20, 30]
        assert all(isinstance(before[r.address]["latency"], float) for r in rig.reals)

        victim.failing = True
        down = await wait_status(rig, victim.address, "down")
        assert down["weight"] == 0  # quiescent=yes
        assert down["reason"] == f"503 {HOSTILE_REASON}"

        code, headers, text = await rig.get("/metrics")
        assert code == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        metrics = samples(text)
        where = (("real", victim.address), ("virtual", f"tcp:{VIP}:80"))
        assert metrics[("pyldirectord_real_up", where)] == 0.0
        assert metrics[("pyldirectord_real_weight", where)] == 0.0
        assert metrics[("pyldirectord_real_state", (*where[:1], ("state", "down"), where[1]))] == 1
        assert metrics[("pyldirectord_real_transitions_total", (*where[:1], ("to", "down"),
                                                                where[1]))] == 1  # fmt: skip
        healthy = (("real", rig.reals[0].address), ("virtual", f"tcp:{VIP}:80"))
        assert metrics[("pyldirectord_real_weight", healthy)] == 10.0
        check = (("check", "negotiate:http"),)
        assert metrics[("pyldirectord_checks_total", check)] >= 4  # 3 first checks + the failure
        assert metrics[("pyldirectord_check_failures_total", check)] >= 1
        assert metrics[("pyldirectord_check_duration_seconds_count", check)] == \
            metrics[("pyldirectord_checks_total", check)]  # fmt: skip
        # start: the service and three reals; then the victim's weight 0
        assert metrics[("pyldirectord_ipvs_operations_total", (("result", "applied"),))] >= 5
        assert metrics[("pyldirectord_ipvs_operations_total", (("result", "refused"),))] == 0
        assert ("pyldirectord_scheduler_lag_seconds", ()) in metrics
        assert metrics[("pyldirectord_overloaded", ())] == 0.0

        code, headers, page = await rig.get("/")
        assert code == 200 and headers["Content-Type"].startswith("text/html")
        assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'none'
        assert '<meta http-equiv="refresh"' in page
        assert HOSTILE_REASON not in page and "503 &lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert f'<td>{victim.address}</td><td class="down">down</td>' in page

        code, _, _ = await rig.get("/nothing-here")
        assert code == 404
        lines = rig.eventlog.read_text().splitlines()

    events = [json.loads(line) for line in lines]
    assert [(e["real"], e["old"], e["new"]) for e in events[:3]] == \
        [(r.address, "unknown", "up") for r in rig.reals]  # fmt: skip
    failure = [e for e in events if e["new"] == "down"]
    assert len(failure) == 1 and failure[0]["real"] == victim.address
    assert failure[0]["old"] == "up" and failure[0]["virtual"] == f"tcp:{VIP}:80"
    assert failure[0]["reason"] == f"503 {HOSTILE_REASON}"
    assert isinstance(failure[0]["latency"], float) and failure[0]["time"].endswith("Z")
    assert stat.S_IMODE(os.stat(rig.eventlog).st_mode) == 0o640
    print(f"event log: {failure[0]}")
