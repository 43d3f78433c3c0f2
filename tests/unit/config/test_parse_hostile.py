"""A 100 KB hostile line of any directive is parsed or refused, never a hang (issue 12).

A pattern that backtracks takes minutes on these lines (the reference's real= pattern took
over 10 s on 30 KB); linear parsing takes well under a second for all of them. Nothing is
timed: the whole run must finish within a generous deadline that only a hang misses.
"""

from __future__ import annotations

import re
import threading

from pyldirectord.config.block_directives import BLOCK_TABLE
from pyldirectord.config.errors import ConfigError
from pyldirectord.config.global_directives import GLOBAL_TABLE
from pyldirectord.config.parser import parse

SIZE = 100_000
# What made the patterns backtrack: long runs of host characters, blanks, quotes, digits
# with dots, threshold markers, and tabs (four blanks each inside a block).
FILLS = ["a" * SIZE, "1." * (SIZE // 2), "\t" * (SIZE // 4) + "x", '" ' * (SIZE // 2),
         " l:1" * (SIZE // 4), "[]:" * (SIZE // 3), ", " * (SIZE // 2)]  # fmt: skip
REAL_PREFIXES = ["", "192.0.2.2:80 gate ", '192.0.2.2:80 gate 1 "', "192.0.2.2:80 gate 1 l:"]


def _name(pattern: str) -> str:
    match = re.match(r"\^\(?([a-z]+)", pattern)
    assert match is not None, pattern
    return match.group(1)


BLOCK_NAMES = sorted({_name(p.pattern) for p, _ in BLOCK_TABLE} | {"real6", "fallback6"})
GLOBAL_NAMES = sorted({_name(p.pattern) for p, _ in GLOBAL_TABLE})


def hostile_configs() -> list[str]:
    configs = []
    for fill in FILLS:
        configs += [f"virtual={fill}\n", f"{fill}\n", f"virtual=192.0.2.1:80\n    {fill}\n"]
        configs += [f"{name}={fill}\n" for name in GLOBAL_NAMES]
        configs += [f"virtual=192.0.2.1:80\n    {name}={fill}\n" for name in BLOCK_NAMES]
        configs += [f"virtual=192.0.2.1:80\n    real={prefix}{fill}\n"
                    for prefix in REAL_PREFIXES]  # fmt: skip
    return configs


def test_every_directive_name_is_covered() -> None:
    assert {"real", "request", "receive", "fallback", "emailalertstatus"} <= set(BLOCK_NAMES)
    assert {"fallback", "emailalertstatus", "logfile", "supervised"} <= set(GLOBAL_NAMES)


def test_hostile_lines_are_parsed_or_refused_without_hanging() -> None:
    outcomes: list[str] = []
    failures: list[BaseException] = []

    def parse_all() -> None:
        for text in hostile_configs():
            try:
                parse(text, "hostile.cf", hostname="director")
                outcomes.append("valid")
            except ConfigError as error:
                assert error.line in (1, 2)
                outcomes.append("refused")
            except BaseException as error:  # reported below, with the config that raised
                failures.append(error)
                return

    thread = threading.Thread(target=parse_all, daemon=True)
    thread.start()
    thread.join(60.0)
    assert not thread.is_alive(), f"hung after {len(outcomes)} configs"
    assert not failures, failures
    assert len(outcomes) == len(hostile_configs())
