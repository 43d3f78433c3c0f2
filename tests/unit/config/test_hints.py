"""Hints explain an error; they never change its verdict, line or message."""

from __future__ import annotations

import pytest
from config_helpers import error_of


@pytest.mark.parametrize(
    ("text", "line", "hint_part"),
    [
        (" checkinterval=5\n", 1, "global directives start in column 0"),
        ("virtualhost=x\n", 1, "only valid inside a virtual block"),
        ("quiescent=yes # c\n", 1, 'got "yes # c"'),
        ("fork=yes\r\n", 1, 'got "yes\\r"'),
        ("logfile=/var/log/x\n", 1, 'logfile="..."'),
        ("Fork=yes\n", 1, "lower case"),
        ("virtual=192.0.2.1:80\n\tfork=yes\n", 2, "fork is a global directive"),
        ('virtual=192.0.2.1:80\n\treceive="#x"\n', 2, "'#' starts a comment"),
        ("virtual=192.0.2.1:80\n\trequest=/x\n", 2, 'request="..."'),
        ("virtual=192.0.2.1:80\n\t\t\n", 2, "a line of blanks inside a block"),
        ("virtual=192.0.2.1:80\n\tops=yes \n", 2, 'got "yes "'),
    ],
)  # fmt: skip
def test_hints(text: str, line: int, hint_part: str) -> None:
    error = error_of(text)
    assert error.line == line
    assert error.hint is not None and hint_part in error.hint


def test_no_hint_when_there_is_nothing_to_add() -> None:
    assert error_of("checkinterval=x\n").hint is None
    assert error_of("bogus=1\n").hint is None
