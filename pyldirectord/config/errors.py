"""The one error a config can have: the first one the reference would report."""

from __future__ import annotations

from pyldirectord.config.model import Config, Diagnostic


class ConfigError(Exception):
    """``message`` is the reference's text exactly (an ``Unknown command`` message embeds the
    raw line, newline included); ``line`` 0 means no particular line.

    ``partial`` is what the reference had already read, and would already have resolved,
    when it met this error: the resolution pass runs over it to find an error that the
    reference reports first (it resolves a block's names before it parses its real lines'
    flags). ``open_virtual`` says the last virtual of ``partial`` was cut short by this error,
    so its duplicate check never ran.
    """

    def __init__(
        self,
        file: str,
        line: int,
        message: str,
        *,
        hint: str | None = None,
        partial: Config | None = None,
        open_virtual: bool = False,
    ) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message
        self.hint = hint
        self.partial = partial
        self.open_virtual = open_virtual

    @property
    def one_line(self) -> str:
        """The message on one line, for ``FILE:LINE: error: ...`` output."""
        return self.message.replace("\n", "").replace("\r", "\\r").rstrip()

    def reference_text(self, pid: int) -> str:
        """What the Perl ldirectord prints on stderr (``__config_log``)."""
        where = f" reading file {self.file} at line {self.line}" if self.line > 0 else ""
        message = self.message if self.message.endswith("\n") else self.message + "\n"
        return f"Error [{pid}]{where}: {message}"


def reference_warning_text(warning: Diagnostic, pid: int) -> str:
    """A warning of ``Config.warnings`` as the Perl ldirectord prints it (``config_warn``)."""
    where = f" reading file {warning.file} at line {warning.line}" if warning.line > 0 else ""
    return f"Warning [{pid}]{where}: {warning.message}\n"
