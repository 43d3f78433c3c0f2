"""workers= (global only): check processes, an extension of pyldirectord."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import error_of, parsed

from pyldirectord.cli.main import main


@pytest.mark.parametrize(
    ("text", "value"),
    [("workers=2\n", 2), ("workers = 64\n", 64), ("workers=1\n", 1), ("workers=auto\n", "auto")],
)
def test_workers_is_a_count_or_auto(text: str, value: object) -> None:
    assert parsed(text).globals.workers == value


def test_one_worker_is_the_default_in_process_checking() -> None:
    assert parsed("").globals.workers == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("workers=0\n", "invalid workers value"),
        ("workers=65\n", "invalid workers value"),
        ("workers=99999999999999999999\n", "invalid workers value"),
        ("workers=two\n", "invalid workers value (expected a number of processes or auto)"),
        ("workers=2x\n", "invalid workers value (expected a number of processes or auto)"),
        ("workers=\n", "invalid workers value (expected a number of processes or auto)"),
        ("workers=-1\n", "invalid workers value (expected a number of processes or auto)"),
    ],
)
def test_bad_values_are_errors_at_their_line(text: str, message: str) -> None:
    error = error_of("checkinterval=5\n" + text)
    assert (error.line, error.one_line) == (2, message)


def test_check_config_warns_it_is_an_extension(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ld.cf"
    path.write_text("workers=auto\n"
                    "virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\tchecktype=connect\n")
    assert main(["--check-config", str(path)]) == 0
    assert (f"{path}:1: warning: workers is a pyldirectord extension, not understood by the "
            "Perl ldirectord") in capsys.readouterr().err  # fmt: skip


def test_check_config_reports_a_bad_value_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ld.cf"
    path.write_text("checkinterval=5\nworkers=100\n")
    assert main(["--check-config", str(path)]) == 1
    assert f"{path}:2: error: invalid workers value" in capsys.readouterr().err
