"""ldirectord.cf line rules: which line is a global, a block directive, a comment, a block end.

This reproduces ``read_config``'s reading loop (spec 2.1), not a tidier grammar:

* Lines are split on ``\\n`` only; the newline stays on the raw line and a CR stays in values.
* At the top level a line opening a block (``virtual=``/``virtual6=`` in column 0) is tested
  first; blank and ``#`` lines are skipped; anything else is a global directive, which the
  parser matches from column 0 (leading blanks make it an unknown command).
* In a block, a ``#`` line at any indentation is skipped and the block goes on. Otherwise the
  text from the first ``#`` is deleted, every TAB becomes four spaces, and the line is a block
  directive only if it then starts with four or more spaces and one more character; any other
  line ends the block and is read again as a top-level line.

Everything here is text in, tokens out: no error can happen at this level.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass

# Perl reads the file as bytes and matches with ASCII rules (\s, \d, \w never match a byte
# above 127). The text is decoded as UTF-8 so that names and comments reach logs, mails and
# JSON intact; bytes that are not UTF-8 survive as surrogate escapes, and re.ASCII gives the
# classes Perl's meaning, so every pattern matches as it does on the bytes.
ENCODING = "utf-8"
ERRORS = "surrogateescape"
A = re.ASCII

VIRTUAL_LINE = re.compile(r"^virtual(6)?\s*=\s*(.*)", A)
BLANK_OR_COMMENT = re.compile(r"^\s*$|^\s*#", A)
BLOCK_COMMENT = re.compile(r"^\s*#", A)
BLOCK_DIRECTIVE = re.compile(r"^ {4,}(.+)", A)


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the file: its number (from 1) and its text with the newline, if any."""

    number: int
    raw: str


@dataclass(frozen=True, slots=True)
class Directive:
    """An in-block directive: ``text`` is what follows the indentation, after comment
    removal and tab expansion; ``raw`` keeps the original line for error messages."""

    number: int
    raw: str
    text: str


@dataclass(frozen=True, slots=True)
class BlockStart:
    """A ``virtual=``/``virtual6=`` line; ``value`` is the text after ``=`` (no newline)."""

    number: int
    raw: str
    family: int  # 4 or 6
    value: str


@dataclass(frozen=True, slots=True)
class BlockEnd:
    """The end of a block: ``number`` is the line that ended it, or the last line at EOF
    (the line the reference reports a duplicate virtual at)."""

    number: int
    at_eof: bool


@dataclass(frozen=True, slots=True)
class Global:
    """A top-level line that is neither blank, comment nor block start."""

    number: int
    raw: str


Token = BlockStart | Directive | BlockEnd | Global


def split_lines(text: str) -> list[str]:
    """Perl's ``<FH>`` records: split after each ``\\n`` only (CR, FF, VT stay in the line)."""
    lines = text.split("\n")
    last = lines.pop()
    records = [line + "\n" for line in lines]
    if last:
        records.append(last)
    return records


def block_directive(raw: str) -> str | None:
    """The directive text of a line read inside a block, or None when the line ends it.

    The caller has already skipped ``#`` comment lines.
    """
    text = raw.split("#", 1)[0] if "#" in raw else raw
    text = text.replace("\t", "    ")
    match = BLOCK_DIRECTIVE.match(text)
    return match.group(1) if match else None


def tokens(text: str) -> Iterator[Token]:
    """The file as the reference's loop sees it, in order."""
    lines = split_lines(text)
    index = 0
    while index < len(lines):
        raw = lines[index]
        number = index + 1
        index += 1
        opening = VIRTUAL_LINE.match(raw)
        if opening is None:
            if not BLANK_OR_COMMENT.match(raw):
                yield Global(number, raw)
            continue
        start = BlockStart(number, raw, 6 if opening.group(1) else 4, opening.group(2))
        yield start
        body_start = index
        index = yield from _block_body(lines, index)
        if index == body_start == len(lines):
            # A virtual= line that is the file's last line: the reference's "goto outer_loop"
            # reads it again (nothing has replaced the line it holds), so the block is
            # opened twice and the second one is a duplicate virtual server.
            yield start
            yield BlockEnd(len(lines), at_eof=True)


def _block_body(lines: list[str], index: int) -> Generator[Token, None, int]:
    """Yield a block's directives and its end; return the index of the line to read next
    (the line that ended the block is read again at the top level)."""
    while index < len(lines):
        raw = lines[index]
        number = index + 1
        if BLOCK_COMMENT.match(raw):
            index += 1
            continue
        text = block_directive(raw)
        if text is None:
            yield BlockEnd(number, at_eof=False)
            return index
        yield Directive(number, raw, text)
        index += 1
    yield BlockEnd(len(lines), at_eof=True)
    return index
