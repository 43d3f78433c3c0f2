"""Texts heartbeat, the OCF agent and operators read: the reference's config error line."""

from __future__ import annotations

import io
import os
from pathlib import Path

from pyldirectord.cli.actions import run
from pyldirectord.cli.lifecycle import Environment, Hooks, finish
from pyldirectord.config.errors import ConfigError
from pyldirectord.config.model import Config
from pyldirectord.runtime.context import DaemonBody, DirectorContext


def test_config_error_text_with_line() -> None:
    error = ConfigError("/etc/ha.d/ldirectord.cf", 7, "duplicate virtual server")
    assert error.reference_text(123) == (
        "Error [123] reading file /etc/ha.d/ldirectord.cf at line 7: duplicate virtual server\n"
    )


def test_config_error_text_chomps_one_newline_only() -> None:
    error = ConfigError("a.cf", 2, "Unknown command foo\n \n")
    expected = "Error [9] reading file a.cf at line 2: Unknown command foo\n \n"
    assert error.reference_text(9) == expected


def test_config_error_without_line() -> None:
    assert ConfigError("a.cf", 0, "no virtual").reference_text(9) == "Error [9]: no virtual\n"


def test_exit_logging_like_ld_exit() -> None:
    lines: list[str] = []
    assert finish(lines.append, False, 0, "quiet") == 0
    assert finish(lines.append, True, 0, "with -d") == 0
    assert finish(lines.append, False, 2, "config_error: Configuration Error") == 2
    assert lines == ["Exiting with exit_status 0: with -d",
                     "Exiting with exit_status 2: config_error: Configuration Error"]  # fmt: skip


def test_unreadable_config_is_the_references_line_0_error(tmp_path: Path) -> None:
    config = tmp_path / "x.cf"
    config.write_text("")

    def unreadable(path: str) -> Config:
        raise PermissionError(13, "Permission denied", path)

    def no_director(_context: DirectorContext) -> DaemonBody:
        raise AssertionError("never started")

    hooks = Hooks(unreadable, lambda _setup: (lambda _message: None), no_director)
    err = io.StringIO()
    env = Environment(rundir=str(tmp_path), argv0="pyldirectord", binary="false",
                      self_command=("false",), out=io.StringIO(), err=err,
                      usage_text="Usage:\n", version_text="v\n")  # fmt: skip
    assert run([str(config), "status"], hooks, env) == 2
    assert err.getvalue() == f"Error [{os.getpid()}]: can not open file {config}\n"
