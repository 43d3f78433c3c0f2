"""Line rules (spec 2.1): where blocks end, what is a comment, tabs, CR, unknown commands."""

from __future__ import annotations

from config_helpers import error_of, loaded, parsed

from pyldirectord.config.model import service_of


def test_block_lines_need_four_columns_and_a_tab_counts_four() -> None:
    config = parsed("virtual=192.0.2.1:80\n    real=192.0.2.2:80 gate\n\treal=192.0.2.3:80 masq\n")
    assert [r.host for r in config.virtuals[0].reals] == ["192.0.2.2", "192.0.2.3"]


def test_three_spaces_end_the_block_and_the_line_is_an_unknown_global() -> None:
    error = error_of("virtual=192.0.2.1:80\n   real=192.0.2.2:80 gate\n")
    assert (error.line, error.message) == (2, "Unknown command    real=192.0.2.2:80 gate\n ")


def test_blank_line_ends_a_block() -> None:
    error = error_of("virtual=192.0.2.1:80\n\treal=192.0.2.2:80 gate\n\n\treal=192.0.2.3:80 gate\n")
    assert error.line == 4
    assert error.message.startswith("Unknown command \treal=192.0.2.3:80 gate")


def test_whitespace_line_of_five_columns_is_an_in_block_error() -> None:
    error = error_of("virtual=192.0.2.1:80\n\t\t\n\treal=192.0.2.2:80 gate\n")
    assert (error.line, error.message) == (2, 'Unknown command "\t\t\n"')


def test_comment_lines_never_end_a_block() -> None:
    config = loaded(
        "virtual=192.0.2.1:80\n# top comment\n\treal=192.0.2.2:80 gate # the first\n"
        '      # indented\n\treal=192.0.2.3:80 gate\n'
    )
    virtual = config.virtuals[0]
    assert [r.host for r in virtual.reals] == ["192.0.2.2", "192.0.2.3"]


def test_hash_inside_quotes_in_a_block_breaks_the_directive() -> None:
    error = error_of('virtual=192.0.2.1:80\n\treceive="a#b"\n')
    assert (error.line, error.message) == (2, 'Unknown command "\treceive="a#b"\n"')


def test_global_lines_keep_trailing_comments_numbers_tolerate_them() -> None:
    config = parsed("checkinterval = 5 # seconds\n")
    assert config.globals.checkinterval == 5
    error = error_of("quiescent = yes # comment\n")
    assert (error.line, error.message) == (1, "quiescent must be 'yes' or 'no'")


def test_indented_global_is_unknown() -> None:
    error = error_of(" checkinterval=5\n")
    assert error.message == "Unknown command  checkinterval=5\n "


def test_directive_names_are_case_sensitive() -> None:
    assert error_of("Quiescent=yes\n").message == "Unknown command Quiescent=yes\n "


def test_crlf_keeps_cr_in_values() -> None:
    error = error_of("quiescent=yes\r\n")
    assert error.message == "quiescent must be 'yes' or 'no'"
    assert parsed("checkinterval=7\r\n").globals.checkinterval == 7


def test_last_scalar_wins_and_globals_apply_anywhere() -> None:
    config = parsed("virtual=192.0.2.1:80\n\treal=192.0.2.2:80 gate\nquiescent=yes\n"
                    "quiescent=no\nchecktimeout=4\n")  # fmt: skip
    assert config.globals.quiescent is False
    assert config.globals.checktimeout == 4


def test_file_without_final_newline_and_block_at_eof() -> None:
    config = loaded("virtual=192.0.2.1:80\n\treal=192.0.2.2:80 gate")
    assert config.virtuals[0].reals[0].host == "192.0.2.2"
    assert config.virtuals[0].end_line == 2 and config.virtuals[0].ended_at_eof


def test_virtual_line_is_recognised_before_the_comment_test() -> None:
    config = parsed("virtual = 192.0.2.1:80 # web\n")
    assert config.virtuals[0].host == "192.0.2.1"


def test_block_ending_line_is_read_again_at_top_level() -> None:
    config = parsed("virtual=192.0.2.1:80\n\treal=192.0.2.2:80 gate\nvirtual=192.0.2.1:443\n"
                    "\treal=192.0.2.2:443 gate\n")  # fmt: skip
    assert [v.port for v in config.virtuals] == [80, 443]
    assert service_of(config.virtuals[1]) == "https"


def test_utf8_text_is_kept_and_other_bytes_survive() -> None:
    from pyldirectord.config.parser import parse_bytes

    config = parse_bytes("virtual=192.0.2.1:80\n\tservicename=Café\n".encode(), "x.cf",
                         hostname="h")  # fmt: skip
    assert config.virtuals[0].servicename == "Café"
    raw = parse_bytes(b"virtual=192.0.2.1:80\n\tcomment=caf\xe9\n", "x.cf", hostname="h")
    comment = raw.virtuals[0].comment
    assert comment is not None
    assert comment.encode("utf-8", "surrogateescape") == b"caf\xe9"


def test_non_ascii_blanks_are_not_blanks() -> None:
    # Perl matches bytes with ASCII classes: a no-break space neither indents nor pads.
    error = error_of("virtual=192.0.2.1:80\n\u00a0\u00a0\u00a0\u00a0real=192.0.2.2:80 gate\n")
    assert error.line == 2 and error.message.startswith("Unknown command \u00a0")
    assert error_of("quiescent=yes\u00a0\n").message == "quiescent must be 'yes' or 'no'"
