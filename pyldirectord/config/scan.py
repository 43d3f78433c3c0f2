"""Linear-time equivalents of the reference's unanchored ``real=`` and ``fallback=`` searches.

Python's ``re`` backtracks: searching ``ADDR(->ADDR)?(:PORT)?\\s+(.*)`` (the reference's
``real=`` pattern, searched and not anchored) through a long run of host characters costs
time quadratic in the run (a 30 KB line took over 10 s), and the request/receive pattern is
worse. Each function here gives exactly what ``re.search`` of the pattern in its docstring
gives (the same start and groups; ``tests/unit/config/test_scan.py`` compares them on random
text), in one or two passes over the text. The inputs are directive values, which never
hold a newline (the lexer's ``.+`` stops before it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

A = re.ASCII
BLANK = frozenset(" \t\n\r\f\v")  # \s under re.ASCII
HOST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")
# [0-9A-fa-f:] as the reference writes it: A-f spans A-Z, [\]^_` and a-f.
BRACKET = frozenset("0123456789:" + "".join(chr(c) for c in range(ord("A"), ord("f") + 1)))
PORT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

_ADDR = r"(?:\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-fa-f:]+\])"
# The reference's pattern without its "\s+(.*)" tail, matched only where it is known to
# succeed (so its backtracking stays within one word).
ADDRESS_PART = re.compile(rf"({_ADDR})(->({_ADDR}))?(:(\d+|[A-Za-z0-9_-]+))?", A)
TAIL = re.compile(r"\s+(.*)", A)
WORD = re.compile(r"\S+", A)


@dataclass(frozen=True, slots=True)
class RealMatch:
    """``re.search(ADDR(->ADDR)?(:PORT)?\\s+(.*))``: ``start()`` and ``group(1..6)``."""

    start: int
    groups: tuple[str | None, ...]  # group(1) .. group(6)

    def group(self, index: int) -> str | None:
        return self.groups[index - 1]


def search_real(value: str) -> RealMatch | None:
    """The first position where the real pattern matches, and its groups.

    The address part holds no blank and must be followed by one, so it is the tail of a
    word that a blank follows: each such word is scanned once from its end (``_Word``).
    """
    for word in WORD.finditer(value):
        end = word.end()
        if end == len(value):
            break  # no blank after the last word
        start = _Word(value, word.start(), end).leftmost_start()
        if start is None:
            continue
        address = ADDRESS_PART.fullmatch(value, start, end)
        tail = TAIL.match(value, end)
        assert address is not None and tail is not None
        return RealMatch(start, (*address.groups(), tail.group(1)))
    return None


class _Word:
    """One word (no blanks) and which of its suffixes the address part matches whole.

    For a start ``s`` the ADDR alternatives end at: any point of the run of host characters
    from ``s`` (a dotted quad is such a run too), or just after a ``]`` inside the run of
    bracket characters after a ``[`` at ``s``. Right-to-left tables answer "is there an end
    in that range after which the rest matches?" in constant time for every ``s``.
    """

    def __init__(self, text: str, begin: int, end: int) -> None:
        self.text, self.begin, self.end = text, begin, end
        size = end - begin + 2
        never = end + 1
        self.host_run = [never] * size  # end of the host-character run from each point
        self.bracket_run = [never] * size
        port_only = [False] * size  # the rest is ":PORT" or nothing
        for i in range(end, begin - 1, -1):
            k = i - begin
            char = text[i] if i < end else ""
            self.host_run[k] = self.host_run[k + 1] if char in HOST and char else i
            self.bracket_run[k] = self.bracket_run[k + 1] if char in BRACKET and char else i
        all_port = end  # smallest j with text[j:end] all port characters
        for i in range(end - 1, begin - 1, -1):
            if text[i] in PORT:
                all_port = i
            else:
                break
        for i in range(begin, end + 1):
            k = i - begin
            port_only[k] = i == end or (text[i] == ":" and i + 1 < end and all_port <= i + 1)
        after_range = self._ends_followed_by(port_only)  # ADDR from s, then ":PORT" or nothing
        rest_ok = [False] * size  # the rest is "(->ADDR)?(:PORT)?"
        for i in range(begin, end + 1):
            k = i - begin
            arrow = text.startswith("->", i) and i + 2 < end and after_range[k + 2]
            rest_ok[k] = port_only[k] or arrow
        self.address_ok = self._ends_followed_by(rest_ok)

    def _ends_followed_by(self, ok: list[bool]) -> list[bool]:
        """For each start s: is there an ADDR from s ending at e with ok[e]?"""
        begin, end, text = self.begin, self.end, self.text
        never = end + 1
        size = end - begin + 2
        next_ok = [never] * (size + 1)  # smallest e >= i with ok[e]
        next_closed = [never] * (size + 1)  # smallest e >= i with ok[e] and text[e-1] == "]"
        for i in range(end, begin - 1, -1):
            k = i - begin
            next_ok[k] = i if ok[k] else next_ok[k + 1]
            closed = ok[k] and i > begin and text[i - 1] == "]"
            next_closed[k] = i if closed else next_closed[k + 1]
        found = [False] * size
        for s in range(begin, end):
            k = s - begin
            by_host = text[s] in HOST and next_ok[k + 1] <= self.host_run[k]
            by_bracket = (text[s] == "[" and s + 3 <= end
                          and next_closed[k + 3] <= self.bracket_run[k + 1])  # fmt: skip
            found[k] = by_host or by_bracket
        return found

    def leftmost_start(self) -> int | None:
        for s in range(self.begin, self.end):
            if self.address_ok[s - self.begin]:
                return s
        return None


def search_spaced(value: str, marker: str) -> tuple[int, str, str] | None:
    """``re.search(r"\\s+MARKER(\\d+)(.*)")`` as (start, digits, rest), for ``l:``/``u:``
    and the weight (empty marker).

    A match inside a run of blanks would also match from the run's start, which comes
    first: only run starts are tried, so each run is walked once.
    """
    index, size = 0, len(value)
    while index < size:
        if value[index] not in BLANK:
            index += 1
            continue
        start = index
        while index < size and value[index] in BLANK:
            index += 1
        if not value.startswith(marker, index):
            continue
        digits_start = index + len(marker)
        digits_end = digits_start
        while digits_end < size and "0" <= value[digits_end] <= "9":
            digits_end += 1
        if digits_end > digits_start:
            return start, value[digits_start:digits_end], value[digits_end:]
    return None


def search_request_receive(value: str) -> tuple[int, str, str, str] | None:
    """``re.search(r'\\s+"(.*)"[, ]\\s*"(.*)"(.*)')`` as (start, request, receive, rest).

    Greedy ``(.*)`` makes the request end at the last quote after which ``[, ]``, blanks, a
    quote and one more quote follow; that choice does not depend on where the request
    opened, so it is found once, from the right, and the first opening before it wins.
    """
    last = value.rfind('"')
    close = _request_close(value, last) if last > 0 else None
    if close is None:
        return None
    index = 1
    while True:
        opening = value.find('"', index, close)
        if opening < 0:
            return None
        if value[opening - 1] in BLANK:
            start = opening - 1
            while start > 0 and value[start - 1] in BLANK:
                start -= 1
            receive_open = _skip_blanks(value, close + 2)
            return start, value[opening + 1 : close], value[receive_open + 1 : last], \
                value[last + 1 :]  # fmt: skip
        index = opening + 1


def _request_close(value: str, last: int) -> int | None:
    close = value.rfind('"', 0, last)
    while close >= 0:
        if close + 1 < len(value) and value[close + 1] in ", ":
            receive_open = _skip_blanks(value, close + 2)
            if receive_open < last and value[receive_open] == '"':
                return close
        close = value.rfind('"', 0, close)
    return None


def _skip_blanks(value: str, index: int) -> int:
    while index < len(value) and value[index] in BLANK:
        index += 1
    return index


def last_two_words(value: str) -> tuple[str, str | None] | None:
    """``re.search(r"(\\S+)(\\s+(\\S+))?\\s*$")`` as (group 1, group 3): the last two words,
    or the only one."""
    words = WORD.findall(value)
    if not words:
        return None
    return (words[-2], words[-1]) if len(words) > 1 else (words[0], None)
