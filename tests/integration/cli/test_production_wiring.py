"""The console script with its production parts (no test hooks): the real parser and the
reference's log formats, for the actions that need no director."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_rig import BINARY, Rig, make_rig

PRODUCTION = {"PYLDIRECTORD_HOOKS": ""}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = make_rig(tmp_path)
    yield rig
    rig.cleanup()


def test_status_logs_to_the_configured_logfile(rig: Rig) -> None:
    config = rig.config("ok.cf")
    result = rig.run(config, "status", extra=PRODUCTION)
    assert (result.returncode, result.stdout) == (3, f"ldirectord is stopped for {config}\n")
    line = rig.log.read_text().splitlines()[0]
    # [<ctime>|<CFGNAME>|<pid>] <msg>, as the reference's file log
    ctime = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}"
    pattern = rf"\[{ctime}\|ok\.cf\|\d+\] Invoking ldirectord invoked as: "
    assert re.match(pattern, line), line
    assert line.endswith(f"{BINARY} {config} status ")


def test_debug_logs_to_stderr_with_debug_copies(rig: Rig) -> None:
    config = rig.config("ok.cf")
    result = rig.run("-d", config, "status", extra=PRODUCTION)
    assert result.returncode == 3
    assert f"DEBUG2: Invoking ldirectord invoked as: {BINARY} -d" not in result.stderr
    assert f"DEBUG2: Invoking ldirectord invoked as: {BINARY} {config} status \n" in result.stderr
    assert result.stderr.endswith("Exiting with exit_status 3: Exiting from ldirectord status\n")


def test_real_parser_error_exit_2(rig: Rig) -> None:
    config = rig.config("bad.cf", "virtual=127.0.0.1:80\n    real=127.0.0.2:80 gate\n    bogus=1\n")
    result = rig.run(config, "status", extra=PRODUCTION)
    assert result.returncode == 2
    assert re.fullmatch(rf"Error \[\d+\] reading file {re.escape(config)} at line 4: .+\n",
                        result.stderr, re.DOTALL), result.stderr  # fmt: skip
