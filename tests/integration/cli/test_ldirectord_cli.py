"""Spec 1.1-1.6 without a live daemon: usage, version, config errors, stopped and stale states.

Every case runs the installed console script, as heartbeat, init scripts and the OCF agent do.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_rig import BINARY, Rig, make_rig

from pyldirectord.cli.invocation import resolve_config

BAD_CONFIG = "checktimeout=3\n# a comment\nnonsense directive\nchecktimeout=4\n"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = make_rig(tmp_path)
    yield rig
    rig.cleanup()


@pytest.mark.parametrize(
    "args",
    [(), ("start", "-d"), ("cfg", "begin"), ("Start",), ("-d",), ("--",)],
    ids=["nothing", "option-after-positional", "bad-action", "case-sensitive", "only-d", "only-dd"],
)
def test_usage_on_stdout_exit_255(rig: Rig, args: tuple[str, ...]) -> None:
    result = rig.run(*args)
    assert result.returncode == 255
    assert result.stdout.startswith("Usage:\n")
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (("-x", "start"), "Unknown option: x\n"),
        (("-dx", "start"), "Unknown option: x\n"),
        (("--debugx", "start"), "Unknown option: debugx\n"),
        (("--deb", "start"), "Unknown option: deb\n"),  # no_auto_abbrev
        # pyldirectord's own tools have long names only: -t is the reference's unknown option.
        (("-t", "x.cf"), "Unknown option: t\n"),
        (("-debug", "start"), "Unknown option: e\nUnknown option: b\nUnknown option: u\n"
                              "Unknown option: g\n"),  # bundling: -d -e -b -u -g
    ],
)  # fmt: skip
def test_unknown_option_then_usage_exit_255(rig: Rig, args: tuple[str, ...], stderr: str) -> None:
    result = rig.run(*args)
    assert (result.returncode, result.stderr) == (255, stderr)
    assert result.stdout.startswith("Usage:\n")


@pytest.mark.parametrize("args", [("-v",), ("--version",), ("-dv",), ("-vd",), ("-v", "x")])
def test_version(rig: Rig, args: tuple[str, ...]) -> None:
    result = rig.run(*args)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Linux Director v1.186-ha")
    assert lines[1:3] == ["1999-2006 Jacob Rief, Horms and others",
                          "<http://www.vergenet.net/linux/ldirectord/>"]  # fmt: skip
    if "d" in args[0]:  # ld_exit logs "Exiting with exit_status 0: " when debugging
        assert "Exiting with exit_status 0: " in result.stderr


@pytest.mark.parametrize("args", [("-h",), ("--help",), ("-?",)])
def test_help(rig: Rig, args: tuple[str, ...]) -> None:
    result = rig.run(*args)
    assert result.returncode == 0
    assert result.stdout.startswith("Usage:")


def test_config_not_found_exit_1(rig: Rig) -> None:
    missing = str(rig.root / "nowhere.cf")
    result = rig.run(missing, "status")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"Config file {missing} not found\n"
    assert "Exiting with exit_status 1: Initialisation Error" in rig.log.read_text()


def test_double_dash_ends_options(rig: Rig) -> None:
    # `-- -d start`: "-d" is CONFIG, as typed (it does not exist)
    result = rig.run("--", "-d", "start")
    assert (result.returncode, result.stderr) == (1, "Config file -d not found\n")


@pytest.mark.parametrize(
    "action", ["start", "stop", "restart", "try-restart", "reload", "force-reload", "status"]
)
def test_bad_config_exit_2_for_every_action(rig: Rig, action: str) -> None:
    config = rig.config("bad.cf", BAD_CONFIG)
    result = rig.run(config, action)
    assert (result.returncode, result.stdout) == (2, "")
    # chomp + "\n": the Unknown command text ends in its raw line, a newline and a space
    expected = rf"Error \[(\d+)\] reading file {re.escape(config)} at line 4: " \
               r"Unknown command nonsense directive\n \n"  # fmt: skip
    match = re.fullmatch(expected, result.stderr)
    assert match, result.stderr
    assert int(match.group(1)) > 1
    assert not rig.pid_file("bad.cf").exists()


def test_status_without_pid_file_is_stopped_exit_3(rig: Rig) -> None:
    config = rig.config("ok.cf")
    result = rig.run(config, "status")
    assert (result.returncode, result.stderr) == (3, "")
    assert result.stdout == f"ldirectord is stopped for {config}\n"
    invoked = [line for line in rig.log_lines() if "Invoking ldirectord invoked as:" in line]
    assert invoked and invoked[0].endswith(f"invoked as: {BINARY} {config} status ")


def test_stale_pid_file_status_exit_1(rig: Rig) -> None:
    """A pid file no process has locked is stale, even if its pid is alive (ours here)."""
    config = rig.config("ok.cf")
    rig.pid_file("ok.cf").write_text(f"{os.getpid()}\n")
    result = rig.run(config, "status")
    assert result.returncode == 1
    assert result.stderr == f"ldirectord stale pid file {rig.pid_file('ok.cf')} for {config}\n"
    assert result.stdout == f"ldirectord is stopped for {config}\n"


def test_empty_pid_file_counts_as_none(rig: Rig) -> None:
    config = rig.config("ok.cf")
    rig.pid_file("ok.cf").write_text("")
    assert rig.run(config, "status").returncode == 3  # quirk 47


def test_locked_pid_file_is_running(rig: Rig) -> None:
    """The lock is the truth: whoever holds it is reported (here a process we hold it in)."""
    config = rig.config("ok.cf")
    path = rig.pid_file("ok.cf")
    path.write_text("4242\n")
    with path.open("r+") as held:
        fcntl.lockf(held.fileno(), fcntl.LOCK_EX)
        result = rig.run(config, "status")
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == f"ldirectord for {config} is running with pid: 4242\n"


@pytest.mark.parametrize("state", ["none", "stale"])
def test_stop_and_try_restart_when_stopped_exit_0(rig: Rig, state: str) -> None:
    config = rig.config("ok.cf")
    if state == "stale":
        rig.pid_file("ok.cf").write_text("999999\n")
    for action in ("stop", "try-restart"):
        result = rig.run(config, action)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert rig.event_lines() == []  # try-restart started nothing
    assert rig.pid_file("ok.cf").exists() == (state == "stale")  # stale file left alone


@pytest.mark.parametrize("action", ["reload", "force-reload"])
def test_reload_when_stopped_exit_1(rig: Rig, action: str) -> None:
    config = rig.config("ok.cf")
    result = rig.run(config, action)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "")
    assert f"ldirectord is stopped for {config}" in rig.log.read_text()
    debug = rig.run("-d", config, action)  # with -d the log goes to stderr
    assert f"ldirectord is stopped for {config}\n" in debug.stderr
    assert "Exiting with exit_status 1: Exiting from ldirectord" in debug.stderr


def test_one_positional_means_ldirectord_cf(rig: Rig) -> None:
    """`pyldirectord status`: CONFIG ldirectord.cf (found in /etc/ha.d first), CFGNAME
    ldirectord, so the pid file is ldirectord.ldirectord.pid, as the systemd unit expects."""
    rig.config("ldirectord.cf")
    expected = resolve_config("ldirectord.cf")
    result = rig.run("status", cwd=rig.root)
    assert expected is not None
    assert (result.returncode, result.stdout) == (3, f"ldirectord is stopped for {expected}\n")
    rig.pid_file("ldirectord").write_text("999999\n")
    assert "ldirectord.ldirectord.pid" in rig.run("status", cwd=rig.root).stderr
