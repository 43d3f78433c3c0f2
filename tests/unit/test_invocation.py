"""Spec 1.1-1.3: Getopt::Long (bundling, no_auto_abbrev, require_order), positionals, CFGNAME,
config resolution order."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pyldirectord.cli.invocation import (
    Invocation,
    Options,
    cfgname_of,
    invocation_of,
    parse_options,
    resolve_config,
)


def options(*args: str) -> Options:
    return parse_options(list(args))


def test_options_only_before_the_first_positional() -> None:
    parsed = options("start", "-d")
    assert (parsed.debug, parsed.positionals) == (False, ("start", "-d"))
    assert invocation_of(parsed) is None  # CONFIG=start, action "-d": usage


def test_bundling_and_long_names() -> None:
    assert options("-dv").debug and options("-dv").version
    assert options("--debug", "--version").version
    assert options("-?").help and options("--help").help and options("-h").help


def test_double_dash_ends_options() -> None:
    parsed = options("-d", "--", "-v", "start")
    assert (parsed.debug, parsed.version, parsed.positionals) == (True, False, ("-v", "start"))


def test_every_unknown_option_is_reported() -> None:
    assert options("-xdy", "start").errors == ("Unknown option: x", "Unknown option: y")
    assert options("--ver").errors == ("Unknown option: ver",)  # never abbreviated
    assert options("--debug=1").errors == ("Option debug does not take an argument",)


def test_single_dash_is_a_positional() -> None:
    assert options("-", "status").positionals == ("-", "status")


@pytest.mark.parametrize(
    ("args", "config", "cfgname", "action"),
    [
        (("start",), "ldirectord.cf", "ldirectord", "start"),
        (("x.cf", "stop", "more"), "x.cf", "x.cf", "stop"),
        (("/etc/lvs/a.cf", "status"), "/etc/lvs/a.cf", "a.cf", "status"),
    ],
)
def test_positionals(args: tuple[str, ...], config: str, cfgname: str, action: str) -> None:
    expected = Invocation(False, config, cfgname, action, args)
    assert invocation_of(options(*args)) == expected


@pytest.mark.parametrize("action", ["START", "check", "reload-or-restart", ""])
def test_only_the_seven_actions(action: str) -> None:
    assert invocation_of(options("x.cf", action)) is None


def test_cfgname_keeps_extension_and_empty_for_trailing_slash() -> None:
    assert cfgname_of("conf/ldirectord.cf") == "ldirectord.cf"
    assert cfgname_of("dir/") == ""


def test_resolution_order_is_plain_concatenation() -> None:
    probed: list[str] = []

    def exists(*hits: str) -> Callable[[str], bool]:
        def is_file(path: str) -> bool:
            probed.append(path)
            return path in hits

        return is_file

    both = exists("/etc/ha.d/x.cf", "x.cf")
    assert resolve_config("x.cf", is_file=both) == "/etc/ha.d/x.cf"
    conf = exists("/etc/ha.d/conf/x.cf", "x.cf")
    assert resolve_config("x.cf", is_file=conf) == "/etc/ha.d/conf/x.cf"
    probed.clear()
    assert resolve_config("/etc/x.cf", is_file=exists("/etc/x.cf")) == "/etc/x.cf"
    assert probed == ["/etc/ha.d//etc/x.cf", "/etc/ha.d/conf//etc/x.cf", "/etc/x.cf"]
    assert resolve_config("y.cf", is_file=exists()) is None
