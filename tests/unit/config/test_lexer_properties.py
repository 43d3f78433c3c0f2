"""Properties of the line rules, over generated text (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pyldirectord.config.errors import ConfigError
from pyldirectord.config.lexer import (
    BlockEnd,
    BlockStart,
    Directive,
    Global,
    block_directive,
    split_lines,
    tokens,
)
from pyldirectord.config.model import Family
from pyldirectord.config.parser import parse
from pyldirectord.config.resolve import parse_and_resolve

INDENTS = st.sampled_from(["\t", "    ", "     ", "\t ", " \t", "  \t"])
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789=:._-\"# \t", max_size=30)
CONFIG_ALPHABET = st.sampled_from([
    "virtual=", "virtual6=", "real=", "\t", "    ", "\n", "\r", "#", "=", ":", "\"", " ",
    "192.0.2.1", "80", "gate", "checktype", "quiescent", "yes", "[", "]", "->", "x", "5",
])  # fmt: skip
CONFIG_TEXT = st.lists(CONFIG_ALPHABET, max_size=60).map("".join)


@given(st.text(max_size=200))
def test_lines_join_back_to_the_text(text: str) -> None:
    lines = split_lines(text)
    assert "".join(lines) == text
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines[:-1])
    assert all(line for line in lines)


@given(INDENTS, WORDS)
def test_tabs_become_four_spaces_and_hash_cuts(indent: str, words: str) -> None:
    text = block_directive(indent + "x" + words + "\n")
    assert text is not None and "\t" not in text
    assert "#" not in text
    expected = ("x" + words).split("#")[0].replace("\t", "    ")
    assert text == expected or text == (indent.replace("\t", "    ") + expected).lstrip(" ")


@given(st.sampled_from(["", " ", "  ", "   ", "    ", "\t\n", "   x"]))
def test_short_indents_end_a_block(line: str) -> None:
    if line.replace("\t", "    ").startswith("    ") and len(line.replace("\t", "    ")) > 4:
        return
    assert block_directive(line) is None


@given(CONFIG_TEXT)
@settings(max_examples=300)
def test_tokens_are_well_formed(text: str) -> None:
    """Blocks open and close in pairs, directives only inside, line numbers never go back
    (except for a block's end, which the next line shares)."""
    open_block = False
    count = len(split_lines(text))
    for token in tokens(text):
        assert 1 <= token.number <= max(count, 1)
        if isinstance(token, BlockStart):
            assert not open_block
            open_block = True
        elif isinstance(token, BlockEnd):
            assert open_block
            open_block = False
        elif isinstance(token, Directive):
            assert open_block and token.text and not token.text.startswith(" " * 5)
        elif isinstance(token, Global):
            assert not open_block and token.raw.strip() and not token.raw.lstrip().startswith("#")
    assert not open_block


@given(st.lists(WORDS, max_size=8))
def test_comment_lines_never_end_a_block(comments: list[str]) -> None:
    body = "".join(f"{' ' * (len(c) % 6)}#{c}\n" for c in comments)
    text = "virtual=192.0.2.1:80\n" + body + "\treal=192.0.2.2:80 gate\n"
    kinds = [type(token).__name__ for token in tokens(text)]
    assert kinds == ["BlockStart", "Directive", "BlockEnd"]


@given(st.text(max_size=300))
@settings(max_examples=300)
def test_arbitrary_text_parses_or_raises_config_error(text: str) -> None:
    try:
        parse(text, "fuzz.cf", hostname="h")
    except ConfigError as error:
        assert error.line >= 0 and error.message


class _NoNames:
    def host(self, name: str, family: Family) -> str | None:
        return "192.0.2.200" if family == 4 else "2001:db8::200"

    def service(self, name: str, protocol: str | None) -> int | None:
        return None


@given(CONFIG_TEXT)
@settings(max_examples=300)
def test_config_like_text_only_ever_fails_with_config_error(text: str) -> None:
    try:
        parse_and_resolve(text.encode("utf-8", "surrogateescape"), "fuzz.cf", lookups=_NoNames(),
                          file_check=lambda path: None, hostname="h")  # fmt: skip
    except ConfigError as error:
        assert error.line >= 0 and error.message
