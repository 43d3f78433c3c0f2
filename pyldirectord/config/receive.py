"""What a ``receive=`` value means: a Perl regex, compiled by the ``regex`` package (pure).

The reference matches ``receive`` as a Perl regex (unanchored, no flags). The ``regex``
package speaks most of Perl's dialect that Python's ``re`` does not (POSIX classes such as
``[[:alpha:]]``, ``(?<name>...)``, possessive quantifiers, ``\\h``, ``\\K``); the few escapes
it lacks (``\\x{HH}``, ``\\o{OOO}``, ``\\e``, ``\\cX``, ``\\k<name>``, Perl's ``\\Z``) are
rewritten first by a single linear pass, so a config written for the reference means the same
thing here. The config's load compiles every pattern with this (``patterns``); the checks
match with the same compiled patterns (``checks.receive``, under time bounds).
"""

from __future__ import annotations

import functools

import regex

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
                raise ReceiveError(f"missing '}}' after \\{escape}{{ in receive {quoted(pattern)}")
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
                raise ReceiveError(f"unterminated \\k name in receive {quoted(pattern)}")
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
        raise ReceiveError(f"invalid code point {digits[:20]!r} in receive {quoted(pattern)}")
    if value <= 0xFF:
        return f"\\x{value:02x}"
    if for_bytes:
        raise ReceiveError(
            f"code point \\x{{{value:x}}} in receive {quoted(pattern)} cannot match the reply's "
            "raw bytes (at most \\x{ff})"
        )
    return f"\\U{value:08x}"


_METACHARACTERS = frozenset("\\^$.|?*+()[]{}")


@functools.lru_cache(maxsize=4096)
def literal_bytes(pattern: str) -> bytes | None:
    """The bytes a pattern without any metacharacter matches (most receive strings: "alive",
    "200 OK"), or None. Such a match is a substring search: no regex, no time bound needed."""
    if not pattern or not _METACHARACTERS.isdisjoint(pattern):
        return None
    return pattern.encode("utf-8", "surrogateescape")


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
    return f"invalid receive regex {quoted(pattern)}: {why}"


def quoted(pattern: str) -> str:
    """The pattern as messages show it: quoted, and cut when long."""
    return repr(pattern) if len(pattern) <= 80 else repr(pattern[:77]) + "..."


def compile_error(pattern: str) -> str | None:
    """Why a configured receive pattern cannot be used, or None (``--check-config``)."""
    try:
        compile_bytes(pattern)
    except ReceiveError as err:
        return str(err)
    return None
