"""The observability extension directives: statusaddress= and eventlog= (global only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import error_of, parsed

from pyldirectord.cli.main import main


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("statusaddress=127.0.0.1:9101\n", ("127.0.0.1", 9101)),
        ("statusaddress = 0.0.0.0:80\n", ("0.0.0.0", 80)),
        ("statusaddress=[::1]:9101\n", ("::1", 9101)),
    ],
)
def test_statusaddress_is_an_address_literal_and_port(
    text: str, address: tuple[str, int]
) -> None:
    assert parsed(text).globals.statusaddress == address


def test_both_are_off_by_default() -> None:
    globals_ = parsed("").globals
    assert globals_.statusaddress is None and globals_.eventlog is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("statusaddress=localhost:9101\n",
         "invalid listen address (expected IP:PORT or [IPv6]:PORT)"),
        ("statusaddress=127.0.0.1\n", "invalid listen address (expected IP:PORT or [IPv6]:PORT)"),
        ("statusaddress=::1:9101\n", "invalid listen address (expected IP:PORT or [IPv6]:PORT)"),
        ("statusaddress=300.1.1.1:9101\n", "invalid listen address: 300.1.1.1 is not an IP "
         "address"),
        ("statusaddress=127.0.0.1:70000\n", "invalid listen address: port 70000 out of range"),
        ("statusaddress=127.0.0.1:0\n", "invalid listen address: port 0 out of range"),
        ("eventlog=events.jsonl\n", "eventlog must be an absolute path"),
    ],
)  # fmt: skip
def test_bad_values_are_errors_at_their_line(text: str, message: str) -> None:
    error = error_of("checkinterval=5\n" + text)
    assert (error.line, error.one_line) == (2, message)


def test_eventlog_takes_a_path_quoted_or_not() -> None:
    assert parsed("eventlog=/var/log/ld-events.jsonl\n").globals.eventlog == \
        "/var/log/ld-events.jsonl"  # fmt: skip
    assert parsed('eventlog="/var/log/x.jsonl"\n').globals.eventlog == "/var/log/x.jsonl"


def test_check_config_warns_both_are_extensions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ld.cf"
    path.write_text("statusaddress=127.0.0.1:9101\neventlog=/tmp/events.jsonl\n"
                    "virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\tchecktype=connect\n")
    assert main(["--check-config", str(path)]) == 0
    err = capsys.readouterr().err
    for line, name in ((1, "statusaddress"), (2, "eventlog")):
        assert (f"{path}:{line}: warning: {name} is a pyldirectord extension, not understood by "
                "the Perl ldirectord") in err  # fmt: skip


def test_drain_is_an_extension_global_or_per_virtual() -> None:
    config = parsed("drain=20\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 masq\n\tdrain=5\n")
    assert config.globals.drain == 20 and config.virtuals[0].drain == 5
    assert [q.message for q in config.quirks] == [
        "drain is a pyldirectord extension, not understood by the Perl ldirectord"] * 2
    error = error_of("drain=soon\n")
    assert (error.line, error.one_line) == (1, "invalid drain time")
