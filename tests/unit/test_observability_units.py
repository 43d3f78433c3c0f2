"""The observability parts that need no running director: the page's escaping, the metrics'
exposition, the snapshot cache, the event log's lines and file safety."""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pyldirectord.core.observer import Observers, Transition
from pyldirectord.notify.eventlog import EventLog, append, event_line
from pyldirectord.notify.metrics import LiveValues, Metrics
from pyldirectord.notify.statefile import DirectorState, RealState, VirtualState
from pyldirectord.notify.statuspage import render_page
from pyldirectord.notify.statusserver import CachedSnapshot

NOW = 1_764_600_000.0
STATE = DirectorState(
    pid=42, config="/etc/ha.d/<web>.cf", written_at=NOW - 1, overloaded=True,
    virtuals=(
        VirtualState("tcp:192.0.2.80:80", (
            RealState("10.0.0.1:80", "up", 5, NOW - 2, "200 OK", latency=0.0042),
            RealState("10.0.0.2:80", "down", 0, NOW - 3, "503 <b onmouseover=x>&\"'", latency=0.5),
            RealState("10.0.0.3:80", "<evil>", 1, None, "not checked yet", latency=None),
        )),
        VirtualState("fwm:7", ()),
    ),
)  # fmt: skip
TRANSITION = Transition(NOW + 0.25, "tcp:192.0.2.80:80", "10.0.0.2:80", "up", "down",
                        "503 Service Unavailable", 0.0123456789)  # fmt: skip


def test_page_escapes_every_server_text_and_never_uses_a_state_as_a_class() -> None:
    page = render_page(STATE, NOW, "lb<1>")
    assert "<b onmouseover" not in page and "<evil>" not in page and "<web>" not in page
    assert "503 &lt;b onmouseover=x&gt;&amp;&quot;&#x27;" in page
    assert "<td>&lt;evil&gt;</td>" in page  # an unknown state: shown, no class
    assert "<title>pyldirectord on lb&lt;1&gt;</title>" in page
    assert '<td class="down">down</td>' in page and "0.5 ms" not in page and "500.0 ms" in page
    assert "4.2 ms" in page and "never" in page and "no real servers" in page
    assert "Overloaded" in page and '<meta http-equiv="refresh" content="5">' in page


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text.decode())
            for s in family.samples}  # fmt: skip


def test_metrics_count_events_and_read_live_values() -> None:
    metrics = Metrics()
    observers = Observers([metrics])
    observers.checked("negotiate:http", True, 0.003)
    observers.checked("negotiate:http", False, 2.0)
    observers.checked("ping", True, 0.0004)
    observers.transition(TRANSITION)
    observers.applied(3, 1)
    live = LiveValues(STATE, lag=0.7, overloaded=True, inconclusive=2, checks_ended=9,
                      mails_sent=4, mails_dropped=1)  # fmt: skip
    samples = _samples(metrics.render(live))
    http = (("check", "negotiate:http"),)
    assert samples[("pyldirectord_checks_total", http)] == 2
    assert samples[("pyldirectord_check_failures_total", http)] == 1
    assert samples[("pyldirectord_check_duration_seconds_bucket", (*http, ("le", "0.005")))] == 1
    assert samples[("pyldirectord_check_duration_seconds_bucket", (*http, ("le", "2.5")))] == 2
    assert samples[("pyldirectord_checks_total", (("check", "ping"),))] == 1
    assert ("pyldirectord_check_failures_total", (("check", "ping"),)) in samples  # a zero
    where = (("real", "10.0.0.2:80"), ("virtual", "tcp:192.0.2.80:80"))
    assert samples[("pyldirectord_real_transitions_total", (where[0], ("to", "down"),
                                                            where[1]))] == 1  # fmt: skip
    assert samples[("pyldirectord_ipvs_operations_total", (("result", "applied"),))] == 3
    assert samples[("pyldirectord_ipvs_operations_total", (("result", "refused"),))] == 1
    assert samples[("pyldirectord_real_up", where)] == 0
    assert samples[("pyldirectord_real_state", (where[0], ("state", "down"), where[1]))] == 1
    assert samples[("pyldirectord_real_state", (where[0], ("state", "up"), where[1]))] == 0
    assert samples[("pyldirectord_real_check_duration_seconds", where)] == 0.5
    up = (("real", "10.0.0.1:80"), ("virtual", "tcp:192.0.2.80:80"))
    assert samples[("pyldirectord_real_up", up)] == 1
    assert samples[("pyldirectord_real_weight", up)] == 5
    assert samples[("pyldirectord_scheduler_lag_seconds", ())] == 0.7
    assert samples[("pyldirectord_overloaded", ())] == 1
    assert samples[("pyldirectord_checks_inconclusive_total", ())] == 2
    assert samples[("pyldirectord_mails_total", (("result", "sent"),))] == 4
    assert samples[("pyldirectord_mails_total", (("result", "dropped"),))] == 1


def test_snapshot_is_taken_again_after_max_age_or_a_transition() -> None:
    taken: list[int] = []
    clock, generation = [0.0], [0]

    def take() -> DirectorState:
        taken.append(1)
        return STATE

    cache = CachedSnapshot(take, lambda: clock[0], lambda: generation[0], max_age=1.0)
    cache.get()
    clock[0] = 0.5
    cache.get()
    assert len(taken) == 1
    generation[0] = 1
    cache.get()
    assert len(taken) == 2
    clock[0] = 1.6
    cache.get()
    assert len(taken) == 3


def test_event_line_is_one_json_object_in_utc() -> None:
    line = event_line(TRANSITION)
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line) == {
        "time": "2025-12-01T14:40:00.250Z", "virtual": "tcp:192.0.2.80:80",
        "real": "10.0.0.2:80", "old": "up", "new": "down",
        "reason": "503 Service Unavailable", "latency": 0.012346,
    }  # fmt: skip


def test_event_log_refuses_a_symlink_and_creates_0640(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    link = tmp_path / "events.jsonl"
    link.symlink_to(target)
    with pytest.raises(OSError) as refused:
        append(str(link), "x\n")
    assert refused.value.errno == errno.ELOOP and target.read_text() == ""
    fresh = tmp_path / "fresh.jsonl"
    old = os.umask(0o022)
    try:
        append(str(fresh), "x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640


def test_event_log_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    # No reader on the FIFO: a plain open for writing would block the writer thread forever.
    fifo = tmp_path / "events.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(OSError) as refused:
        append(str(fifo), "x\n")
    assert refused.value.errno == errno.ENXIO


def test_event_log_reports_a_failure_once_and_keeps_running(tmp_path: Path) -> None:
    reports: list[str] = []
    reported = threading.Event()
    link = tmp_path / "events.jsonl"
    link.symlink_to(tmp_path / "elsewhere")

    def report(message: str) -> None:
        reports.append(message)
        reported.set()

    log = EventLog(str(link), report)
    log.transition(TRANSITION)
    assert reported.wait(30)
    link.unlink()
    reported.clear()
    log.transition(TRANSITION)
    assert reported.wait(30)
    log.close()
    assert reports[0].startswith(f"cannot write event log {link}: ")
    assert reports[1:] == [f"event log {link} is writable again"]
    assert link.read_text() == event_line(TRANSITION)
