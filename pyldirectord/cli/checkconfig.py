"""``pyldirectord --check-config [--json] [CONFIG]``: is this config valid, and what is odd in it.

Exit 0 for a valid config (a one-line summary on stdout), 1 for an invalid or missing one
(``FILE:LINE: error: MESSAGE`` on stderr, the message being the reference's). Warnings go to
stderr as ``FILE:LINE: warning: ...`` and never change the exit code.

The validity verdict and the error line are the Perl ldirectord's (its ``read_config``); the
warnings are ours: lint that reads the environment lives in ``environment_warnings`` over an
``Environment`` value, so it stays testable without touching /proc.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from pyldirectord.config.errors import ConfigError
from pyldirectord.config.model import Config, Diagnostic, check_name
from pyldirectord.config.resolve import check_append_no_create, load
from pyldirectord.runtime import preflight
from pyldirectord.runtime.preflight import HostFacts

EXIT_OK = 0
EXIT_INVALID = 1
DEFAULT_CONFIG = "ldirectord.cf"


def find_config(name: str) -> str | None:
    """ldirectord's search: /etc/ha.d/NAME, /etc/ha.d/conf/NAME, then NAME as given
    (plain concatenation, so an absolute NAME is first tried as /etc/ha.d//abs/path)."""
    for candidate in (f"/etc/ha.d/{name}", f"/etc/ha.d/conf/{name}", name):
        if os.path.isfile(candidate):
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class Environment:
    """The host facts the warnings depend on."""

    world_readable: bool
    host: HostFacts = field(default_factory=HostFacts)

    @classmethod
    def read(cls, config_path: str) -> Environment:
        try:
            mode = os.stat(config_path).st_mode
        except OSError:
            mode = 0
        return cls(bool(mode & stat.S_IROTH), preflight.read_facts())


def environment_warnings(config: Config, env: Environment) -> list[Diagnostic]:
    """Settings that parse but will not do what the operator expects on this host."""
    found: list[Diagnostic] = []
    for virtual in config.virtuals:
        if virtual.passwd and env.world_readable:
            found.append(Diagnostic(config.path, virtual.line, "the config holds a passwd and "
                                    "is world-readable", hint=f"chmod o-r {config.path}"))
    return found + preflight.warnings(config, env.host)


def summary(config: Config) -> str:
    checks = Counter(check_name(virtual) for virtual in config.virtuals)
    reals = sum(len(virtual.reals) for virtual in config.virtuals)
    listed = ", ".join(f"{name} x{count}" for name, count in sorted(checks.items()))
    return (f"{config.path}: configuration OK: {len(config.virtuals)} virtual services, "
            f"{reals} real servers, checks: {listed or 'none'}")  # fmt: skip


def format_diagnostic(kind: str, diagnostic: Diagnostic) -> str:
    hint = f" (hint: {diagnostic.hint})" if diagnostic.hint else ""
    message = diagnostic.message.replace("\r", "\\r")
    return f"{diagnostic.file}:{max(diagnostic.line, 0)}: {kind}: {message}{hint}"


def to_json(value: Any) -> Any:
    """Dataclasses as objects, frozensets as sorted lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    return value


def check(name: str, *, as_json: bool, out: TextIO, err: TextIO) -> int:
    path = find_config(name)
    if path is None:
        err.write(f"{name}:0: error: Config file {name} not found\n")
        return _json_verdict(out, as_json, None, ConfigError(name, 0, f"Config file {name} not "
                                                             "found"), [])  # fmt: skip
    try:
        config = load(path, file_check=check_append_no_create)
    except ConfigError as error:
        hint = f" (hint: {error.hint})" if error.hint else ""
        err.write(f"{error.file}:{error.line}: error: {error.one_line}{hint}\n")
        return _json_verdict(out, as_json, None, error, [])
    warnings = [*config.warnings, *config.quirks,
                *environment_warnings(config, Environment.read(path))]  # fmt: skip
    for warning in warnings:
        err.write(format_diagnostic("warning", warning) + "\n")
    if not as_json:
        out.write(summary(config) + "\n")
    return _json_verdict(out, as_json, config, None, warnings)


def _json_verdict(
    out: TextIO, as_json: bool, config: Config | None, error: ConfigError | None,
    warnings: list[Diagnostic],
) -> int:  # fmt: skip
    if as_json:
        document = {
            "valid": error is None,
            "error": None if error is None else
            {"file": error.file, "line": error.line, "message": error.one_line},
            "warnings": to_json(warnings),
            "config": None if config is None else to_json(config),
        }  # fmt: skip
        out.write(json.dumps(document, indent=2) + "\n")
    return EXIT_OK if error is None else EXIT_INVALID


def main(args: Sequence[str], out: TextIO | None = None, err: TextIO | None = None) -> int | None:
    """``args`` follow ``--check-config``; None means a usage error."""
    out, err = out or sys.stdout, err or sys.stderr
    as_json = "--json" in args
    rest = [arg for arg in args if arg != "--json"]
    if len(rest) > 1 or any(arg.startswith("-") and arg != "-" for arg in rest):
        return None
    return check(rest[0] if rest else DEFAULT_CONFIG, as_json=as_json, out=out, err=err)


def load_reporting(name: str, err: TextIO) -> Config | None:
    """The config for another action (``--probe``, ``--plan``): found and loaded as
    ``--check-config`` does, a bad one reported in its words (None then: exit 1)."""
    path = find_config(name)
    if path is None:
        err.write(f"{name}:0: error: Config file {name} not found\n")
        return None
    try:
        return load(path, file_check=check_append_no_create)
    except ConfigError as error:
        hint = f" (hint: {error.hint})" if error.hint else ""
        err.write(f"{error.file}:{error.line}: error: {error.one_line}{hint}\n")
        return None
