"""real=/real6= lines (spec 2.6): address forms, ranges, flags, and the order of their errors."""

from __future__ import annotations

import pytest
from config_helpers import error_of, loaded, parsed

from pyldirectord.config.model import Real, real_id

V = "virtual=192.0.2.1:80\n"


def reals(line: str, virtual: str = V) -> tuple[Real, ...]:
    return loaded(virtual + "\t" + line + "\n").virtuals[0].reals


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("real=192.0.2.2:80 gate", ("192.0.2.2", 80, "gate", 1)),
        ("real=192.0.2.2 masq", ("192.0.2.2", 0, "masq", 1)),
        ("real=192.0.2.2:http ipip 0", ("192.0.2.2", 80, "ipip", 0)),
        ("real=web1:8080 masq 5", ("192.0.2.11", 8080, "masq", 5)),
        ("real = 192.0.2.2:80   gate   3  ", ("192.0.2.2", 80, "gate", 3)),
        ("real=:80 gate", ("0.0.0.80", 0, "gate", 1)),  # the search starts at "80"
        ("real=192.0.2.2:80 gate\r", ("192.0.2.2", 80, "gate", 1)),  # a CR is blank here
        ("real=192.0.2.2::5060 gate", ("0.0.19.196", 0, "gate", 1)),  # spec 8 #10
        ("real=192.0.2.2:80 gate junk 7", ("192.0.2.2", 80, "gate", 7)),  # spec 8 #11
    ],
)  # fmt: skip
def test_real_forms(line: str, expected: tuple[object, ...]) -> None:
    (real,) = reals(line)
    assert (real.host, real.port, real.forward, real.weight) == expected


def test_unanchored_match_is_kept_and_flagged() -> None:
    config = parsed(V + "\treal=192.0.2.2::5060 gate\n")
    assert config.virtuals[0].reals[0].host == "5060"
    assert any('from "5060"' in quirk.message for quirk in config.quirks)


def test_request_receive_and_thresholds() -> None:
    (real,) = reals('real=192.0.2.2:80 gate 2 "health", "OK" l:5 u:100')
    assert (real.weight, real.request, real.receive) == (2, "/health", "OK")
    assert (real.lower, real.upper) == (5, 100)
    (spaced,) = reals('real=192.0.2.2:80 gate "/x" "y"')
    assert (spaced.request, spaced.receive, spaced.weight) == ("/x", "y", 1)
    (empty,) = reals('real=192.0.2.2:80 gate "/x", ""')
    assert empty.receive == ""


def test_upper_before_lower_is_lost_and_flagged() -> None:
    config = loaded(V + "\treal=192.0.2.2:80 gate 1 u:10 l:5\n")
    real = config.virtuals[0].reals[0]
    assert (real.lower, real.upper) == (5, 0)
    assert any('"u:10" before the l:' in quirk.message for quirk in config.quirks)
    lonely = loaded(V + "\treal=192.0.2.2:80 gate 1 l:5\n")
    assert any("l: without u:" in quirk.message for quirk in lonely.quirks)


def test_digit_in_a_request_string_is_taken_as_the_weight() -> None:
    # The weight search finds " 5" inside the quotes; what is left is not a request pair.
    error = error_of(V + '\treal=192.0.2.2:80 gate "/a 5" "b"\n')
    assert error.message == 'Invalid real server line, around "" "b""'


def test_ranges_expand_numerically_fixing_the_string_compare() -> None:
    hosts = [r.host for r in reals("real=0.0.0.9->0.0.0.12:80 gate")]
    assert hosts == ["0.0.0.9", "0.0.0.10", "0.0.0.11", "0.0.0.12"]
    named = [r.host for r in reals("real=web1->192.0.2.13:80 gate 2")]
    assert named == ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
    assert {r.weight for r in reals("real=web1->web9 gate 2")} == {2}


def test_shared_real_has_one_id_in_two_virtuals() -> None:
    config = loaded(V + "\treal=192.0.2.2:80 gate\n\tchecktype=connect\n\n"
                    "virtual=192.0.2.1:81\n\treal=192.0.2.2:80 gate\n\tchecktype=connect\n")
    first, second = config.virtuals
    assert real_id(first, first.reals[0]) == real_id(second, second.reals[0])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("real=192.0.2.2:80", "invalid address for real server (wrong format)"),
        ("real=192.0.2.2:80 \"gate\"", 'Invalid real server line, around """'),
        ("real=192.0.2.2:80 ", "forward method must be gate, masq or ipip"),
        ("real=192.0.2.2:80 Gate", "forward method must be gate, masq or ipip"),
        ("real=192.0.2.2:80 gate 1 extra", 'Invalid real server line, around " extra"'),
        ("real=192.0.2.2:80 gate,1", 'Invalid real server line, around ",1"'),
        ("real=nosuch:80 gate", "invalid address (nosuch) for real server (could not resolve "
                                "host)"),
        ("real=192.0.2.2:nosuch gate", "invalid port (nosuch) for real server (could not "
                                       "resolve port)"),
        ("real=192.0.2.2:65536 gate", "invalid port (65536) for real server (could not resolve "
                                      "port)"),
        ("real=192.0.2.2->nosuch gate", "invalid address (nosuch) for real server (could not "
                                        "resolve end host)"),
        ("real=192.0.2.9->192.0.2.2 gate", "Invalid Range: 192.0.2.9-192.0.2.2: First value "
                                           "must be greater than or equal to the second value"),
        ("real=10.0.0.0->10.2.0.0 gate", "Invalid Range: 10.0.0.0-10.2.0.0: more than 65536 "
                                         "addresses (pyldirectord limit)"),
    ],
)  # fmt: skip
def test_real_errors_at_the_real_line(line: str, message: str) -> None:
    error = error_of(V + "\tchecktype=connect\n\t" + line + "\n\tscheduler=rr\n")
    assert (error.line, error.message) == (3, message)


def test_ipv6_ranges_are_refused() -> None:
    error = error_of("virtual6=[2001:db8::1]:80\n\treal6=[2001:db8::2]->[2001:db8::9]:80 gate\n")
    assert (error.line, error.message) == (2, "Address range for IPv6 is not supported yet")


def test_real_lines_are_read_after_the_other_directives_of_the_block() -> None:
    error = error_of(V + "\treal=192.0.2.2:80 route\n\tchecktype=bogus\n")
    assert error.line == 3


def test_names_resolve_before_flags_are_read() -> None:
    # The reference resolves a block's address, then each real's names, then its flags.
    error = error_of("virtual=192.0.2.1:nosuch\n\treal=192.0.2.2:80 route\n")
    assert (error.line, error.message) == (1, "invalid address for virtual service")
    error = error_of(V + "\treal=192.0.2.2:nosuch route\n")
    assert error.message.startswith("invalid port (nosuch)")
    error = error_of(V + "\treal=192.0.2.2:nosuch gate\n\treal=192.0.2.3:80 route\n")
    assert (error.line, error.message[:12]) == (2, "invalid port")
    error = error_of(V + "\treal=192.0.2.3:80 route\n\treal=192.0.2.2:nosuch gate\n")
    assert (error.line, error.message) == (2, "forward method must be gate, masq or ipip")


def test_an_earlier_block_resolves_before_a_later_parse_error() -> None:
    error = error_of("virtual=192.0.2.1:nosuch\n\tchecktype=connect\nbogus=1\n")
    assert (error.line, error.message) == (1, "invalid address for virtual service")
    error = error_of("fallback=nosuch:80\nvirtual=192.0.2.1:80\n\tchecktype=zzz\n")
    assert error.line == 1
