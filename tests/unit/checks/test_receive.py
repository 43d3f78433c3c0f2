"""Perl receive patterns: the rewrite into regex's dialect, compile errors, the time bound."""

from __future__ import annotations

import asyncio

import pytest

from pyldirectord.checks.receive import search_bytes, search_bytes_in_slice, search_text
from pyldirectord.config.receive import (
    ReceiveError,
    compile_bytes,
    compile_error,
    literal_bytes,
    perl_to_regex,
)


@pytest.mark.parametrize(
    ("perl", "rewritten"),
    [
        (r"\x{68}i", r"\x68i"),
        (r"[\x{41}-\x{5A}]", r"[\x41-\x5a]"),
        (r"\o{150}", r"\x68"),
        (r"\e\cA\c[", r"\x1b\x01\x1b"),
        (r"(?<n>a)\k<n>\k'n'\k{n}", r"(?<n>a)\g<n>\g<n>\g<n>"),
        (r"ok\Z", r"ok(?=\n?\z)"),
        (r"\\x{41}", r"\\x{41}"),  # an escaped backslash, then literal text
        (r"a\.b\d[[:alpha:]]", r"a\.b\d[[:alpha:]]"),  # what regex knows is kept
        ("trailing\\", "trailing\\"),
    ],
)
def test_perl_escapes_are_rewritten_and_the_rest_kept(perl: str, rewritten: str) -> None:
    assert perl_to_regex(perl, for_bytes=True) == rewritten


async def test_code_points_beyond_a_byte() -> None:
    assert await search_text(r"\x{20AC}", "price: \u20ac")
    with pytest.raises(ReceiveError, match="cannot match the reply's raw bytes"):
        await search_bytes(r"\x{20AC}", b"x")


@pytest.mark.parametrize("bad", ["(", r"\x{zz}", r"\x{41", "[[:nonsense:]]", r"\k<n"])
def test_bad_patterns_are_reported_not_raised(bad: str) -> None:
    reason = compile_error(bad)
    assert reason is not None and repr(bad) in reason


def test_good_patterns_compile() -> None:
    assert compile_error(r"^HTTP/1\.[01] 200 (?i:ok)\s*$") is None


async def test_search_is_unanchored_and_perl_dollar() -> None:
    assert await search_bytes("alive", b"I am alive, thanks")
    assert await search_bytes("end$", b"the end\n")  # $ before a final newline, as in Perl
    assert not await search_bytes("^alive", b"not alive")
    assert await search_bytes("^two", b"one", b"two")  # any of the items (simpletcp's lines)


async def test_catastrophic_backtracking_is_cut_by_the_time_bound() -> None:
    with pytest.raises(ReceiveError, match="ran over"):
        await search_bytes("(a+)+$", b"a" * 60_000 + b"!")


async def test_a_costly_match_leaves_the_event_loop_running() -> None:
    """Beyond its first slice the match runs in a worker thread: the loop keeps ticking."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    with pytest.raises(ReceiveError):
        await search_bytes("(a|aa)+$", b"a" * 60_000 + b"!")
    task.cancel()
    print(f"the loop ticked {ticks} times during the costly match")
    assert ticks >= 3


def test_hostile_patterns_are_errors_with_a_short_message() -> None:
    """Thousands of nested groups overflow regex's recursive parser: an error, not a crash."""
    nested = compile_error("(" * 5000 + ")" * 5000)
    assert nested is not None and nested.endswith("...: nested too deeply")
    unterminated = compile_error("[" * 10_000)
    assert unterminated is not None and len(unterminated) < 200


@pytest.mark.parametrize("pattern", ["alive", "200 OK", "a-b/c", "caf\u00e9", "x=1, y=2", "#1"])
@pytest.mark.parametrize("body", [b"", b"I am alive\n", b"HTTP 200 OK", b"a-b/c", b"caf\xc3\xa9",
                                  b"x=1, y=2", b"#", b"#1 ALIVE"])  # fmt: skip
def test_a_literal_receive_matches_as_the_regex_does(pattern: str, body: bytes) -> None:
    """A pattern without metacharacters is a substring search, with the regex's answer."""
    assert literal_bytes(pattern) is not None
    assert search_bytes_in_slice(pattern, body) == (compile_bytes(pattern).search(body) is not None)


@pytest.mark.parametrize(
    "pattern", ["a.c", "^ok", "ok$", "a|b", "a+", "(ok)", "[ok]", "\\d", "x{2}"]
)
def test_a_pattern_with_a_metacharacter_is_no_literal(pattern: str) -> None:
    assert literal_bytes(pattern) is None
