"""``receive`` patterns: Perl syntax, compiled by the ``regex`` package, matched under a bound.

The reference matches ``receive`` as a Perl regex (unanchored, no flags). The ``regex``
package speaks most of Perl's dialect that Python's ``re`` does not (POSIX classes such as
``[[:alpha:]]``, ``(?<name>...)``, possessive quantifiers, ``\\h``, ``\\K``); the few escapes
it lacks (``\\x{HH}``, ``\\o{OOO}``, ``\\e``, ``\\cX``, ``\\k<name>``, Perl's ``\\Z``) are
rewritten first by a single linear pass, so a config written for the reference means the same
thing here.

A match gets time bounds (``regex``'s ``timeout=``): a few milliseconds on the event loop,
where every other real's check runs too, then, for a costly pattern such as ``(a+)+$``, up to
``MATCH_TIMEOUT`` in a worker thread; running over is that check's DOWN verdict, never a
stalled director. A sane pattern against a 64 KB reply takes microseconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import time
from collections.abc import Sequence
from typing import TypeVar

import regex

# A match first runs on the event loop for at most LOOP_SLICE: any sane pattern over a
# BODY_LIMIT reply ends well within it. One that does not is costly (backtracking): it goes on
# in a worker thread, with the GIL released, for at most MATCH_TIMEOUT, then it is DOWN.
# (regex checks its timeout every so many steps: a bound is overrun up to about three times.)
LOOP_SLICE = 0.005
MATCH_TIMEOUT = 0.5
MATCHER_THREADS = 2

# Perl's control-character escapes that `regex` does not know.
_SIMPLE_ESCAPES = {"e": "\\x1b"}
_NAME_QUOTES = {"<": ">", "'": "'", "{": "}"}


class ReceiveError(Exception):
    """A receive pattern that does not compile, or whose match ran out of time."""


def perl_to_regex(pattern: str, *, for_bytes: bool) -> str:
    """Rewrite the Perl escapes ``regex`` lacks into ones it has; everything else is kept.

    One left-to-right pass (linear): a backslash and the character after it are always
    consumed together, so ``\\\\x{41}`` stays a literal backslash followed by ``x{41}``.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char != "\\" or i + 1 == n:
            out.append(char)
            i += 1
            continue
        escape = pattern[i + 1]
        if escape in "xo" and i + 2 < n and pattern[i + 2] == "{":
            end = pattern.find("}", i + 3)
            if end < 0:
                raise ReceiveError(f"missing '}}' after \\{escape}{{ in receive {_quoted(pattern)}")
            digits = pattern[i + 3 : end].strip()
            out.append(_code_point(digits, 16 if escape == "x" else 8, for_bytes, pattern))
            i = end + 1
        elif escape == "c" and i + 2 < n and pattern[i + 2].isascii():
            # Perl's \cX: the control character X xor 64 (\c[ is ESC).
            out.append(f"\\x{ord(pattern[i + 2].upper()) ^ 64:02x}")
            i += 3
        elif escape == "k" and i + 2 < n and pattern[i + 2] in _NAME_QUOTES:
            # Perl's named backreference \k<name>, \k'name' or \k{name}: regex's \g<name>.
            end = pattern.find(_NAME_QUOTES[pattern[i + 2]], i + 3)
            if end < 0:
                raise ReceiveError(f"unterminated \\k name in receive {_quoted(pattern)}")
            out.append(f"\\g<{pattern[i + 3 : end]}>")
            i = end + 1
        elif escape in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[escape])
            i += 2
        elif escape == "Z":
            # Perl's \Z also matches before a final newline; Python's (and regex's) does not.
            out.append("(?=\\n?\\z)")
            i += 2
        else:
            out.append(pattern[i : i + 2])
            i += 2
    return "".join(out)


def _code_point(digits: str, base: int, for_bytes: bool, pattern: str) -> str:
    try:
        value = int(digits or "0", base) if len(digits) <= 8 else -1
    except ValueError:
        value = -1
    if not 0 <= value <= 0x10FFFF:
        raise ReceiveError(f"invalid code point {digits[:20]!r} in receive {_quoted(pattern)}")
    if value <= 0xFF:
        return f"\\x{value:02x}"
    if for_bytes:
        raise ReceiveError(
            f"code point \\x{{{value:x}}} in receive {_quoted(pattern)} cannot match the reply's "
            "raw bytes (at most \\x{ff})"
        )
    return f"\\U{value:08x}"


@functools.lru_cache(maxsize=4096)
def compile_bytes(pattern: str) -> regex.Pattern[bytes]:
    """The pattern for a raw reply (HTTP body, simpletcp lines); ReceiveError if it is bad."""
    source = perl_to_regex(pattern, for_bytes=True)
    try:
        return regex.compile(source.encode("utf-8", "surrogateescape"))
    except (regex.error, RecursionError, OverflowError, ValueError) as err:
        raise ReceiveError(_invalid(pattern, err)) from None


@functools.lru_cache(maxsize=4096)
def compile_text(pattern: str) -> regex.Pattern[str]:
    """The pattern for decoded text (DNS answers); ReceiveError if it is bad."""
    source = perl_to_regex(pattern, for_bytes=False)
    try:
        return regex.compile(source)
    except (regex.error, RecursionError, OverflowError, ValueError) as err:
        raise ReceiveError(_invalid(pattern, err)) from None


def _invalid(pattern: str, err: Exception) -> str:
    # RecursionError: regex's parser recurses per nesting level (thousands of "(").
    why = "nested too deeply" if isinstance(err, RecursionError) else str(err)
    return f"invalid receive regex {_quoted(pattern)}: {why}"


def _quoted(pattern: str) -> str:
    """The pattern as messages show it: quoted, and cut when long."""
    return repr(pattern) if len(pattern) <= 80 else repr(pattern[:77]) + "..."


def compile_error(pattern: str) -> str | None:
    """Why a configured receive pattern cannot be used, or None (``--check-config``)."""
    try:
        compile_bytes(pattern)
    except ReceiveError as err:
        return str(err)
    return None


async def search_bytes(pattern: str, *items: bytes) -> bool:
    """Whether ``pattern`` matches any of ``items`` (unanchored), under the two bounds.

    ReceiveError on a bad pattern or a match that ran out of time.
    """
    return await _search(compile_bytes(pattern), pattern, items)


async def search_text(pattern: str, *items: str) -> bool:
    return await _search(compile_text(pattern), pattern, items)


AnyStr = TypeVar("AnyStr", str, bytes)


async def _search(compiled: regex.Pattern[AnyStr], pattern: str, items: Sequence[AnyStr]) -> bool:
    try:
        return _any_match(compiled, items, LOOP_SLICE, release_gil=False)
    except TimeoutError:
        pass  # a costly match: the rest of it runs beside the loop, not on it
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(
            _matcher(), _any_match, compiled, items, MATCH_TIMEOUT, True
        )
    except TimeoutError:
        size = sum(len(item) for item in items)
        raise ReceiveError(_timeout_reason(pattern, size)) from None


def _any_match(
    compiled: regex.Pattern[AnyStr], items: Sequence[AnyStr], budget: float, release_gil: bool
) -> bool:
    """One time budget for all the items (simpletcp matches line by line)."""
    deadline = time.monotonic() + budget
    for item in items:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        if compiled.search(item, timeout=left, concurrent=release_gil) is not None:
            return True
    return False


@functools.cache
def _matcher() -> concurrent.futures.ThreadPoolExecutor:
    # Its own small pool: costly matches never take the default executor's threads from the
    # rest of the daemon, and at most MATCHER_THREADS cores burn on them at once.
    return concurrent.futures.ThreadPoolExecutor(MATCHER_THREADS, "receive-match")


def _timeout_reason(pattern: str, size: int) -> str:
    return f"receive {_quoted(pattern)} ran over {MATCH_TIMEOUT:g}s on {size} bytes (too costly)"
