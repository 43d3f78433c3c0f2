"""The receive patterns a config will use, compiled before anything runs (``FILE:LINE``).

The reference compiles a ``receive`` pattern only when a check first uses it; a pattern that
does not compile then fails every check of that real, silently. Here the patterns are
compiled as the checks will compile them (``config.receive``: Perl syntax) when the config
is loaded, so ``--check-config`` reports a bad one at its line and ``start`` and a reload
refuse it instead of running a director that can never bring the real up.

Only negotiate checks (``negotiate`` and ``checktype=N``) use ``receive``; a pattern on a
virtual that never negotiates is never compiled, as in the reference.
"""

from __future__ import annotations

import re

from pyldirectord.config.errors import ConfigError
from pyldirectord.config.model import Config, Real, Virtual

NEGOTIATING = frozenset({"negotiate", "combined"})
_RECEIVE_LINE = re.compile(rb"^[ \t]+receive[ \t]*=")


def check_receive_patterns(config: Config, data: bytes) -> None:
    """Raise ConfigError for the first receive pattern (in file order) that does not compile.

    ``data`` is the config file's text: the model keeps no line for a block's ``receive=``,
    so it is found in the block's lines (one pass over them).
    """
    patterns: list[tuple[Virtual, Real | None, str]] = []
    for virtual in config.virtuals:
        if virtual.checktype not in NEGOTIATING:
            continue
        if virtual.receive:
            patterns.append((virtual, None, virtual.receive))
        patterns.extend((virtual, real, real.receive) for real in virtual.reals if real.receive)
    if not patterns:
        return
    # Imported only for a config that has patterns: `status` (a cluster manager's monitor,
    # every few seconds) loads the config too, and the regex engine takes tens of ms to load.
    from pyldirectord.config.receive import compile_error

    found: list[tuple[int, str]] = []
    lines: list[bytes] | None = None
    for virtual, real, pattern in patterns:
        why = compile_error(pattern)
        if why is None:
            continue
        if real is not None:
            found.append((real.line, why))
        else:
            lines = lines if lines is not None else data.splitlines()
            found.append((receive_line(lines, virtual), why))
    if found:
        line, why = min(found)
        raise ConfigError(config.path, line, why)


def receive_line(lines: list[bytes], virtual: Virtual) -> int:
    """The last ``receive=`` line of the block (the one that counts), else the block's line."""
    end = virtual.end_line if virtual.end_line >= virtual.line else len(lines)
    last = virtual.line
    for number in range(virtual.line + 1, min(end, len(lines)) + 1):
        if _RECEIVE_LINE.match(lines[number - 1]):
            last = number
    return last
