"""monitorfile lines byte-exact against the spec's verified examples (spec 6.3)."""

from __future__ import annotations

import calendar
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyldirectord.config.model import Real, Virtual, real_id
from pyldirectord.notify.log import Log, StreamSink
from pyldirectord.notify.monitor import MonitorFile, escape_message, monitor_line

# Tue Nov 24 19:12:11 2026 UTC
T = float(calendar.timegm((2026, 11, 24, 19, 12, 11, 0, 0, 0)))


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_negotiate_example() -> None:
    v = Virtual(line=1, family=4, protocol="tcp", host="127.0.0.2", port=18080, service="http")
    r = Real(line=2, host="127.0.0.2", port=18080, forward="masq",
             request="/ok", receive="Test Page")  # fmt: skip
    assert monitor_line(T, 9480, real_id(v, r), "up", "200 OK") == (
        "[Tue Nov 24 19:12:11 2026] [9480] negotiate http tcp 127.0.0.2 18080 1 masq "
        "/ok Test Page [up] 200 OK\n"
    )


def test_external_example_keeps_the_double_space_of_an_empty_receive() -> None:
    v = Virtual(line=1, family=4, protocol="tcp", host="10.0.0.1", port=80,
                checktype="external", checkcommand="/usr/local/bin/chk.sh")  # fmt: skip
    r = Real(line=2, host="10.0.0.2", port=80, forward="masq", weight=3)
    assert monitor_line(T, 23071, real_id(v, r), "down", None) == (
        "[Tue Nov 24 19:12:11 2026] [23071] external /usr/local/bin/chk.sh tcp 10.0.0.2 80 3 "
        "masq /  [down] -\n"
    )


def test_message_escapes() -> None:
    assert escape_message("a%b|c\r\nd") == "a%25b%7cc%0d%0ad"
    assert escape_message("") == ""


def test_file_appends_and_survives_write_errors(tmp_path: Path) -> None:
    import io

    err = io.StringIO()
    log = Log(StreamSink(err, stamped=False), clock=lambda: T)
    path = tmp_path / "monitor.log"
    mon = MonitorFile(str(path), log, clock=lambda: T, pid=lambda: 42)
    assert mon.write("connect:tcp:10.0.0.1:80:::1:gate:\\/:", "up", None)
    assert mon.write("connect:tcp:10.0.0.1:80:::1:gate:\\/:", "down", "refused|x")
    assert path.read_text() == (
        "[Tue Nov 24 19:12:11 2026] [42] connect tcp 10.0.0.1 80 1 gate /  [up] -\n"
        "[Tue Nov 24 19:12:11 2026] [42] connect tcp 10.0.0.1 80 1 gate /  [down] refused%7cx\n"
    )
    bad = MonitorFile(str(tmp_path / "missing" / "m.log"), log, clock=lambda: T)
    assert not bad.write("x", "up", None)
    assert not bad.write("x", "up", None)
    assert err.getvalue().count("Error writing to monitorfile") == 1  # not once per check
    os.mkdir(tmp_path / "missing")
    assert bad.write("x", "up", None)

