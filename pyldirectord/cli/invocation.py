"""argv -> what to do, exactly as the reference reads its command line (spec 1.1-1.3).

Getopt::Long with ``bundling``, ``no_auto_abbrev`` and ``require_order``: options only before
the first positional, ``--`` ends them, ``-dv`` is ``-d -v``, long options need ``--`` and are
never abbreviated. Pure functions; the file-system probe of config resolution is injectable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ACTIONS = ("start", "stop", "restart", "try-restart", "reload", "force-reload", "status")
CONFIG_DIRS = ("/etc/ha.d/", "/etc/ha.d/conf/")
DEFAULT_CONFIG = "ldirectord.cf"
DEFAULT_CFGNAME = "ldirectord"

_SHORT = {"d": "debug", "h": "help", "?": "help", "v": "version"}
_LONG = {"debug": "debug", "help": "help", "version": "version"}


@dataclass(frozen=True, slots=True)
class Options:
    debug: bool
    help: bool
    version: bool
    positionals: tuple[str, ...]
    errors: tuple[str, ...]  # Getopt::Long's messages, e.g. "Unknown option: x"


@dataclass(frozen=True, slots=True)
class Invocation:
    debug: bool
    config: str  # as typed, before resolution
    cfgname: str  # names the pid file: text after the last "/" of CONFIG as typed
    action: str
    positionals: tuple[str, ...]  # all of them, for the "invoked as" log line


def _long_option(text: str) -> tuple[str | None, str | None]:
    name, has_value, _ = text.partition("=")
    if name not in _LONG:
        return None, f"Unknown option: {name}"
    if has_value:
        return None, f"Option {name} does not take an argument"
    return _LONG[name], None


def parse_options(args: Sequence[str]) -> Options:
    """Options up to the first positional (or ``--``); every bad option is reported."""
    flags: set[str] = set()
    errors: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            index += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        if arg.startswith("--"):
            flag, error = _long_option(arg[2:])
            flags.update([flag] if flag else [])
            errors.extend([error] if error else [])
        else:
            for letter in arg[1:]:
                if letter in _SHORT:
                    flags.add(_SHORT[letter])
                else:
                    errors.append(f"Unknown option: {letter}")
        index += 1
    return Options(
        debug="debug" in flags, help="help" in flags, version="version" in flags,
        positionals=tuple(args[index:]), errors=tuple(errors),
    )  # fmt: skip


def cfgname_of(config: str) -> str:
    """Perl's ``/([^\\/]+)$/``; a CONFIG ending in "/" gives "" (the reference's undef, which
    also interpolates as an empty string into the pid file name)."""
    return config.rsplit("/", 1)[-1]


def invocation_of(options: Options) -> Invocation | None:
    """None means usage: no positional, or an action that is not exactly one of ACTIONS."""
    positionals = options.positionals
    if not positionals:
        return None
    if len(positionals) == 1:
        config, cfgname, action = DEFAULT_CONFIG, DEFAULT_CFGNAME, positionals[0]
    else:
        config, action = positionals[0], positionals[1]
        cfgname = cfgname_of(config)
    if action not in ACTIONS:
        return None
    return Invocation(options.debug, config, cfgname, action, positionals)


def resolve_config(
    config: str,
    *,
    dirs: Sequence[str] = CONFIG_DIRS,
    is_file: Callable[[str], bool] = lambda path: Path(path).is_file(),
) -> str | None:
    """``/etc/ha.d/X``, then ``/etc/ha.d/conf/X``, then X itself: plain concatenation, as the
    reference does, so ``/etc/x.cf`` is first probed as ``/etc/ha.d//etc/x.cf``."""
    for candidate in (*(directory + config for directory in dirs), config):
        if is_file(candidate):
            return candidate
    return None
