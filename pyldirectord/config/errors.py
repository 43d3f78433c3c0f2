"""The one exception a config loader raises: where the first error is and the reference's text.

Kept tiny on purpose: the parser raises it, the ldirectord-compatible CLI formats it as
``Error [<pid>] reading file <CONFIG> at line <N>: <message>``, ``--check-config`` as
``FILE:LINE: error: <message> (hint: ...)``.
"""

from __future__ import annotations


class ConfigError(Exception):
    """The first error of a config file; ``line`` <= 0 means no particular line."""

    def __init__(self, file: str, line: int, message: str, hint: str | None = None) -> None:
        super().__init__(file, line, message, hint)
        self.file = file
        self.line = line
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"
