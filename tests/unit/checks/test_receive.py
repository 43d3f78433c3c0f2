"""Perl receive patterns: the rewrite into regex's dialect, compile errors, the time bound."""

from __future__ import annotations

import pytest
from pyldirectord.checks.receive import (
    ReceiveError,
    compile_error,
    perl_to_regex,
    search_bytes,
    search_text,
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


def test_code_points_beyond_a_byte() -> None:
    assert search_text(r"\x{20AC}", "price: \u20ac")
    with pytest.raises(ReceiveError, match="cannot match the reply's raw bytes"):
        search_bytes(r"\x{20AC}", b"x")


@pytest.mark.parametrize("bad", ["(", r"\x{zz}", r"\x{41", "[[:nonsense:]]", r"\k<n"])
def test_bad_patterns_are_reported_not_raised(bad: str) -> None:
    reason = compile_error(bad)
    assert reason is not None and repr(bad) in reason


def test_good_patterns_compile() -> None:
    assert compile_error(r"^HTTP/1\.[01] 200 (?i:ok)\s*$") is None


def test_search_is_unanchored_and_perl_dollar() -> None:
    assert search_bytes("alive", b"I am alive, thanks")
    assert search_bytes("end$", b"the end\n")  # $ before a final newline, as in Perl
    assert not search_bytes("^alive", b"not alive")


def test_catastrophic_backtracking_is_cut_by_the_time_bound() -> None:
    with pytest.raises(ReceiveError, match="ran over"):
        search_bytes("(a+)+$", b"a" * 60_000 + b"!")
