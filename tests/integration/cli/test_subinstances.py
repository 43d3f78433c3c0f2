"""execute= sub-instances: the commands run, reload-or-start, and the timeout."""

from __future__ import annotations

import time
from pathlib import Path

from pyldirectord.runtime.subinstances import SubInstances

FAKE = """#!/bin/sh
echo "$*" >> {calls}
[ "$1 $2" = "kept-but-dead.cf reload" ] && exit 1
exit 0
"""


def fake_binary(tmp_path: Path) -> tuple[str, Path]:
    calls = tmp_path / "calls"
    script = tmp_path / "fake ldirectord"  # a space: the binary must be quoted, values not
    script.write_text(FAKE.format(calls=calls))
    script.chmod(0o755)
    return f"'{script}'", calls


def test_each_value_runs_through_the_shell(tmp_path: Path) -> None:
    binary, calls = fake_binary(tmp_path)
    log: list[str] = []
    SubInstances(binary, ('"a.cf"', "b.cf"), log.append).run("start")
    assert calls.read_text().splitlines() == ["a.cf start", "b.cf start"]  # quotes removed
    assert log == []


def test_reload_stops_removed_reloads_kept_starts_new(tmp_path: Path) -> None:
    binary, calls = fake_binary(tmp_path)
    new = SubInstances(binary, ("kept.cf", "kept-but-dead.cf", "new.cf"), lambda _m: None)
    new.reload_from(("gone.cf", "kept.cf", "kept-but-dead.cf"))
    assert calls.read_text().splitlines() == [
        "gone.cf stop",
        "kept.cf reload",
        "kept-but-dead.cf reload",
        "kept-but-dead.cf start",  # reload failed: it was not running
        "new.cf start",
    ]


def test_a_hung_sub_instance_is_killed_after_the_timeout() -> None:
    log: list[str] = []
    started = time.monotonic()
    result = SubInstances("sleep", ("30",), log.append, timeout=0.3).system("sleep 30")
    elapsed = time.monotonic() - started
    print(f"killed after {elapsed:.2f}s")
    assert result is None and elapsed < 10
    assert log == ["system_timeout(0.3, sleep 30) timed out, kill -TERM child"]
