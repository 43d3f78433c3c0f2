"""The parser's working state while it reads (the reference's globals, ``%vsrv`` and its
list of real lines), and what the directive tables share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pyldirectord.config.errors import ConfigError
from pyldirectord.config.lexer import A, BlockStart, Directive
from pyldirectord.config.model import Config, Diagnostic, Fallback, FileProbe, Globals, Virtual

Updates = dict[str, Any]


@dataclass
class Block:
    """A virtual block being read (the reference's ``%vsrv`` and ``@rsrv_todo``)."""

    start: BlockStart
    fields: Updates
    port_text: str  # the virtual's port as written ("0" for a fwmark)
    reals: list[Directive] = field(default_factory=list)


@dataclass
class State:
    file: str
    hostname: str
    globals: Updates = field(default_factory=dict)
    virtuals: list[Virtual] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    quirks: list[Diagnostic] = field(default_factory=list)
    probes: list[FileProbe] = field(default_factory=list)
    fallback_lines: list[Fallback] = field(default_factory=list)
    execute: list[str] = field(default_factory=list)
    block: Block | None = None

    def config(self) -> Config:
        globals_ = Globals(
            **self.globals, execute=tuple(self.execute), fallback_lines=tuple(self.fallback_lines)
        )
        return Config(
            path=self.file, globals=globals_, virtuals=tuple(self.virtuals),
            warnings=tuple(self.warnings), file_probes=tuple(self.probes),
            quirks=tuple(self.quirks),
        )  # fmt: skip

    def error(self, line: int, message: str, hint: str | None = None) -> ConfigError:
        """The error at ``line``, carrying everything read before it (see ConfigError)."""
        return ConfigError(self.file, line, message, hint=hint, partial=self.config())

    def warn(self, line: int, message: str) -> None:
        self.warnings.append(Diagnostic(self.file, line, message))

    def quirk(self, line: int, message: str, hint: str | None = None) -> None:
        self.quirks.append(Diagnostic(self.file, line, message, hint))


def pattern(text: str) -> re.Pattern[str]:
    return re.compile(text, A)


CHECKCOUNT_DEPRECATED = (
    "checkcount option is deprecated and slated for removal.  please see 'failurecount'"
)
EXTENSION = "{} is a pyldirectord extension, not understood by the Perl ldirectord"
