"""Containment: a failure inside a check is that check's verdict, and every fault is seen once.

A check's own code turns a server's failures into reasons. Whatever it still raises (a
library's ``struct.error`` on a truncated handshake, an ``IndexError`` on a reply nobody
expected) is caught one level up, by ``prober.Prober``, and becomes DOWN with a reason that
names the error; the real's timer keeps running. ``FaultLog`` logs the first occurrence of
each (real, error type) with its traceback, so the operator sees the bug once, not every
interval. The director's own faults (a timer task's bookkeeping, a background loop) go
through the same log.

Everything a server says reaches an output only as a reason, so ``printable`` makes those
reasons safe for a terminal, a log line, the monitorfile and a mail: control characters and
escape sequences are written out as ``\\x1b`` rather than interpreted.
"""

from __future__ import annotations

import traceback
import unicodedata
from collections.abc import Callable

# A reason longer than this is cut: it feeds log lines, the state file and mails.
REASON_LIMIT = 512


def printable(text: str, limit: int = REASON_LIMIT) -> str:
    """``text`` with every control or format character escaped, cut to ``limit`` characters.

    C0/C1 controls (ESC, CR, LF, ...), DEL, line/paragraph separators, bidi overrides and
    lone surrogates (undecodable bytes) become ``\\xHH``/``\\uHHHH``; spaces stay as they are.
    """
    if not text.isprintable():
        text = "".join(char if _shown(char) else _escaped(char) for char in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(char: str) -> bool:
    # isprintable() is False for every space but " " too; those (Zs) are harmless.
    return char.isprintable() or unicodedata.category(char) == "Zs"


def _escaped(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def fault_reason(error: BaseException) -> str:
    """The DOWN reason for a check that raised: the error's type and message, one line."""
    message = _text(error)
    name = type(error).__name__
    return printable(f"check failed: {name}: {message}" if message else f"check failed: {name}")


def _text(error: BaseException) -> str:
    """``str(error)``, which is the exception's own code and may itself fail."""
    try:
        return str(error)
    except Exception:
        return "<unprintable>"


class FaultLog:
    """Logs each (where, error type) once with its traceback; later ones only count."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log
        self._seen: set[tuple[str, str]] = set()
        self.count = 0  # every fault reported, logged or not

    def check_failed(self, key: str, real: str, error: BaseException) -> None:
        """The check of plan ``key`` (real server ``real``, as ``ip:port``) raised."""
        self._report(
            key, error,
            f"Check of real server {real} failed with an error; the real is marked down "
            "(logged once per real and error type)",
        )  # fmt: skip

    def director_failed(
        self, where: str, error: BaseException, outcome: str = "the director carries on"
    ) -> None:
        """A bug in the director's own code (``where`` names the task) and what follows it."""
        self._report(where, error, f"Internal error in {where}; {outcome} (logged once)")

    def _report(self, where: str, error: BaseException, headline: str) -> None:
        self.count += 1
        key = (where, type(error).__qualname__)
        if key in self._seen:
            return
        self._seen.add(key)
        self._log(printable(headline))
        try:
            blocks = traceback.format_exception(error)
        except Exception:  # an exception whose own text fails: its type and where it was
            blocks = [*traceback.format_tb(error.__traceback__), f"{type(error).__name__}\n"]
        for block in blocks:
            for line in block.rstrip("\n").split("\n"):
                self._log(printable(line, limit=1000))
