"""scan.py's linear searches give what the reference's patterns give under ``re.search``.

The reference's patterns are the oracle here, on short generated text over the characters
that matter to them (where backtracking costs nothing); then each search meets a long
hostile value and must finish (a thread join with a generous deadline, so a hang fails the
test rather than the run, and nothing is timed).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from pyldirectord.config.scan import (
    last_two_words,
    search_real,
    search_request_receive,
    search_spaced,
)
from pyldirectord.config.values import split_commas

A = re.ASCII
_ADDR = r"(?:\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-fa-f:]+\])"
REAL = re.compile(rf"({_ADDR})(->({_ADDR}))?(:(\d+|[A-Za-z0-9_-]+))?\s+(.*)", A)
WEIGHT = re.compile(r"\s+(\d+)(.*)", A)
LOWER = re.compile(r"\s+l:(\d+)(.*)", A)
REQUEST_RECEIVE = re.compile(r'\s+"(.*)"[, ]\s*"(.*)"(.*)', A)
FALLBACK_TOKENS = re.compile(r"(\S+)(\s+(\S+))?\s*$", A)

# Every character class of the patterns, blanks of every kind, and a non-ASCII letter.
ALPHABET = "19a.f-Z>[]:_`^ \t\r\f\v,\"lu/#é"
texts = st.text(alphabet=ALPHABET, max_size=24)


@settings(max_examples=3000)
@given(texts)
def test_real_search_is_the_references(value: str) -> None:
    want = REAL.search(value)
    got = search_real(value)
    if want is None:
        assert got is None
        return
    assert got is not None
    assert (got.start, got.groups) == (want.start(), want.groups())


@settings(max_examples=1500)
@given(texts)
def test_spaced_number_search_is_the_references(value: str) -> None:
    for marker, pattern in (("", WEIGHT), ("l:", LOWER)):
        want = pattern.search(value)
        got = search_spaced(value, marker)
        assert got == (None if want is None else (want.start(), want.group(1), want.group(2)))


@settings(max_examples=3000)
@given(texts)
def test_request_receive_search_is_the_references(value: str) -> None:
    want = REQUEST_RECEIVE.search(value)
    got = search_request_receive(value)
    assert got == (None if want is None else (want.start(), *want.groups()))


@settings(max_examples=1000)
@given(texts)
def test_last_two_words_are_the_references(value: str) -> None:
    want = FALLBACK_TOKENS.search(value)
    got = last_two_words(value)
    assert got == (None if want is None else (want.group(1), want.group(3)))


def test_known_real_lines() -> None:
    match = search_real("192.168.6.2::5060 gate")
    assert match is not None and match.start == 13 and match.group(1) == "5060"
    match = search_real("10.0.0.1->10.0.0.9:http masq 3")
    assert match is not None
    assert (match.group(1), match.group(3), match.group(5), match.group(6)) == (
        "10.0.0.1", "10.0.0.9", "http", "masq 3")  # fmt: skip
    match = search_real("[2001:db8::2]:80 gate")
    assert match is not None and match.group(1) == "[2001:db8::2]"


def finishes(work: Callable[[], object], deadline: float = 30.0) -> bool:
    """Whether ``work`` returns before ``deadline`` (a hang, not a speed, fails)."""
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(deadline)
    return not thread.is_alive()


# 100 KB of what made each pattern backtrack: a quadratic search takes minutes on these
# (the reference's real= pattern took over 10 s on 30 KB).
HOSTILE = [
    "a" * 100_000 + ":",
    "1." * 50_000,
    "[" * 100_000,
    "[]:" * 33_000 + "a",
    "a->" * 33_000,
    " " * 100_000 + "x",
    '" ' * 50_000,
    '"," "' * 20_000,
    " l:" * 33_000,
    "a:" * 50_000 + " ",
]


def test_hostile_values_finish() -> None:
    def scan_all() -> None:
        for value in HOSTILE:
            search_real(value)
            search_spaced(value, "")
            search_spaced(value, "u:")
            search_request_receive(value)
            last_two_words(value)

    assert finishes(scan_all)


@settings(max_examples=1000)
@given(st.text(alphabet=" \t\r\f\v,ab", max_size=20))
def test_comma_split_is_the_references(value: str) -> None:
    assert split_commas(value) == re.split(r"\s*,\s*", value, flags=A)


def test_comma_split_of_a_long_blank_run_finishes() -> None:
    assert finishes(lambda: split_commas("a" + " " * 200_000 + "b"))
