"""Containment helpers: printable reasons and faults logged once with their traceback."""

from __future__ import annotations

from pyldirectord.core.faults import FaultLog, fault_reason, printable


def test_control_and_escape_characters_are_written_out() -> None:
    assert printable("220 \x1b[31mred\x1b[0m\r\nX-Injected: 1") == (
        "220 \\x1b[31mred\\x1b[0m\\x0d\\x0aX-Injected: 1"
    )
    assert printable("tab\there\x7f\x85") == "tab\\x09here\\x7f\\x85"
    assert printable("bidi \u202e gnirts, line\u2028sep") == "bidi \\u202e gnirts, line\\u2028sep"
    assert printable("undecodable \udcff byte") == "undecodable \\udcff byte"


def test_plain_text_and_harmless_spaces_are_kept() -> None:
    assert printable("200 OK — alive") == "200 OK — alive"
    assert printable("no\u00a0break") == "no\u00a0break"


def test_long_reasons_are_cut() -> None:
    cut = printable("x" * 10_000)
    assert len(cut) == 512 and cut.endswith("...")


def test_fault_reason_names_the_error() -> None:
    assert fault_reason(IndexError("list index out of range")) == (
        "check failed: IndexError: list index out of range"
    )
    assert fault_reason(ValueError()) == "check failed: ValueError"
    assert fault_reason(ValueError("bad \x1b[2J")) == "check failed: ValueError: bad \\x1b[2J"


def raised(error: Exception) -> Exception:
    try:
        raise error
    except Exception as caught:
        return caught


def test_each_real_and_error_type_is_logged_once_with_its_traceback() -> None:
    lines: list[str] = []
    faults = FaultLog(lines.append)
    for _ in range(3):
        faults.check_failed("id-a", "10.0.0.1:80", raised(IndexError("x")))
    faults.check_failed("id-a", "10.0.0.1:80", raised(ValueError("y")))
    faults.check_failed("id-b", "10.0.0.2:80", raised(IndexError("x")))
    headlines = [line for line in lines if line.startswith("Check of real server")]
    assert [h.split(" failed")[0] for h in headlines] == [
        "Check of real server 10.0.0.1:80",
        "Check of real server 10.0.0.1:80",
        "Check of real server 10.0.0.2:80",
    ]
    assert lines.count("Traceback (most recent call last):") == 3
    assert "IndexError: x" in lines and "ValueError: y" in lines
    assert faults.count == 5


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("a library's broken __str__")


def test_an_exception_whose_text_fails_is_still_a_reason_and_logged() -> None:
    lines: list[str] = []
    error = raised(Unprintable())
    assert fault_reason(error) == "check failed: Unprintable: <unprintable>"
    FaultLog(lines.append).check_failed("id", "10.0.0.1:80", error)
    assert lines[0].startswith("Check of real server 10.0.0.1:80 failed")
    assert any("Unprintable" in line for line in lines[1:])
