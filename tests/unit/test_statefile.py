"""The status table's source: schema round trip, atomic replacement, heartbeat-safe text."""

from __future__ import annotations

import os
from pathlib import Path

from pyldirectord.notify.statefile import (
    DirectorState,
    RealState,
    VirtualState,
    from_json,
    read_state,
    render_table,
    to_json,
    write_state,
)

NOW = 1_764_078_000.0
STATE = DirectorState(
    pid=4242, config="/etc/ha.d/ldirectord.cf", written_at=NOW - 3,
    virtuals=(
        VirtualState("tcp:192.168.6.240:80", (
            RealState("10.0.0.1:80", "up", 5, NOW - 2, "HTTP 200"),
            RealState("10.0.0.2:80", "down", 0, None, "service stopped; not running"),
        )),
        VirtualState("fwm:7", ()),
    ),
)  # fmt: skip


def test_json_round_trip() -> None:
    assert from_json(to_json(STATE)) == STATE


def test_write_is_atomic_and_readable(tmp_path: Path) -> None:
    path = tmp_path / "pyldirectord.ldirectord.cf.json"
    write_state(str(path), STATE)
    write_state(str(path), STATE)
    assert read_state(str(path)) == STATE
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left behind


def test_unreadable_or_foreign_files_give_none(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    assert read_state(str(path)) is None
    path.write_text('{"schema": 99}')
    assert read_state(str(path)) is None
    path.write_text("{half")
    assert read_state(str(path)) is None


def test_table_columns_and_rows() -> None:
    lines = render_table(STATE, NOW).splitlines()
    assert lines[0].split() == ["VIRTUAL", "REAL", "STATE", "WEIGHT", "LAST", "CHECK", "REASON"]
    assert lines[1].split()[:4] == ["tcp:192.168.6.240:80", "10.0.0.1:80", "up", "5"]
    assert lines[1].endswith("(2s ago)  HTTP 200")
    assert lines[2].split()[:5] == ["tcp:192.168.6.240:80", "10.0.0.2:80", "down", "0", "never"]
    assert lines[3].split() == ["fwm:7", "-", "-", "-", "-", "no", "real", "servers"]
    assert lines[4] == "state written 3s ago by pid 4242"
    # columns line up
    assert lines[1].index("10.0.0.1:80") == lines[0].index("REAL")


def test_table_never_says_stopped_or_running() -> None:
    """heartbeat reads "stopped"/"not ... running" before "running" in the status text."""
    text = render_table(STATE, NOW).lower()
    assert "stopped" not in text and "running" not in text
    assert "[s]topped" in text and "not [r]unning" in text


def test_a_real_edited_by_hand_says_so_in_the_table_and_the_file() -> None:
    drained = RealState("10.0.0.3:80", "up", 0, NOW - 1, "200 OK", by_hand=True)
    weighted = RealState("10.0.0.4:80", "up", 2, NOW - 1, "200 OK", by_hand=True)
    virtual = VirtualState("tcp:192.0.2.1:80", (drained, weighted))
    state = DirectorState(4242, "x.cf", NOW, (virtual,))
    assert from_json(to_json(state)) == state
    rows = render_table(state, NOW).splitlines()
    assert "up, drained by hand" in rows[1] and "up, weight set by hand" in rows[2]
    old = to_json(STATE).replace(', "by_hand": false', "")  # a file of an older daemon
    assert from_json(old) == STATE
