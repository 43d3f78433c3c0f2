"""The director's pure parts: what a check result writes to the monitorfile, when a
fallbackcommand runs, and what the state file shows."""

from __future__ import annotations

from pyldirectord.config.model import Config, Globals, Real, Virtual
from pyldirectord.core.desired import desired_table, health_key
from pyldirectord.core.health import RealHealth, State
from pyldirectord.core.table import IpvsTable
from pyldirectord.notify.fallbackcommand import FallbackMemory
from pyldirectord.notify.monitor import monitor_entry
from pyldirectord.notify.statefile import RealState, VirtualState
from pyldirectord.runtime.statewriter import snapshot

A = Real(line=2, host="10.0.0.1", port=80, forward="masq", weight=3)
B = Real(line=3, host="10.0.0.2", port=8080, forward="gate")
WEB = Virtual(line=1, family=4, protocol="tcp", host="192.0.2.10", port=80, reals=(A, B),
              scheduler="rr", fallbackcommand="/usr/local/bin/sorry")  # fmt: skip
CONFIG = Config("/etc/ha.d/web.cf", Globals(), (WEB,))


def up(at: float | None = None) -> RealHealth:
    return RealHealth(State.UP, last_check=at, reason="HTTP 200")


def test_monitorfile_lines_follow_the_reference() -> None:
    # The message is the one the reference's check passes (issue 13): the HTTP family its
    # status line either way, LDAP and DNS "Success"; every other check none (written "-").
    assert monitor_entry("negotiate", "http", True, "200 OK", negotiated=True) == ("up", "200 OK")
    assert monitor_entry("negotiate", "https", False, "503 Service Unavailable",
                         negotiated=True) == ("down", "503 Service Unavailable")  # fmt: skip
    assert monitor_entry("negotiate", "dns", True, "resolved", negotiated=True) == (
        "up", "Success")  # fmt: skip
    assert monitor_entry("negotiate", "ldap", False, "Bind failed", negotiated=True) == (
        "down", "Bind failed")  # fmt: skip
    assert monitor_entry("negotiate", "smtp", True, "220 ready", negotiated=True) == ("up", None)
    assert monitor_entry("combined", "http", True, "connected") == ("up", None)  # connect half
    assert monitor_entry("connect", "none", False, "refused") == ("down", None)
    assert monitor_entry("connect", "none", False, "x", maintenance=True) == (
        "down", "Server in maintenance")  # fmt: skip
    assert monitor_entry("ping", "none", True, "") == ("up", None)
    assert monitor_entry("ping", "none", False, "no reply") is None
    assert monitor_entry("on", "none", True, "") is None
    assert monitor_entry("external-perl", "none", False, "exit 1") is None


def test_fallbackcommand_runs_once_per_change() -> None:
    memory = FallbackMemory()
    nobody: dict[tuple[str, str], RealHealth] = {}
    [first] = memory.due(CONFIG, nobody)
    assert (first.command, first.action, first.virtual) == ("/usr/local/bin/sorry", "start", WEB)
    assert memory.due(CONFIG, nobody) == []
    one_up = {health_key(WEB, B): up()}
    assert [run.action for run in memory.due(CONFIG, one_up)] == ["stop"]
    assert memory.due(CONFIG, one_up) == []
    assert [run.action for run in memory.due(CONFIG, nobody)] == ["start"]


def test_snapshot_shows_health_and_the_weight_applied() -> None:
    health = {health_key(WEB, A): up(at=10.0), health_key(WEB, B): RealHealth(State.DOWN)}
    desired = desired_table(CONFIG, health, IpvsTable())
    state = snapshot(CONFIG, health, desired, pid=7, written_at=1000.0, wall_offset=900.0,
                     overloaded=True)  # fmt: skip
    assert (state.pid, state.config, state.written_at, state.overloaded) == (
        7, "/etc/ha.d/web.cf", 1000.0, True)
    assert state.virtuals == (VirtualState("tcp:192.0.2.10:80", (
        RealState("10.0.0.1:80", "up", 3, 910.0, "HTTP 200"),
        RealState("10.0.0.2:80", "down", 0, None, "not checked yet"),
    )),)  # fmt: skip
