"""``real=`` and ``fallback=`` values (``_ld_read_config_real_resolve``, ``add_real_server``,
``parse_fallback``): the reference's patterns, searched the way it searches them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyldirectord.config.limits import PORT_MAX, THRESHOLD_MAX, WEIGHT_MAX, bounded_int, is_digits
from pyldirectord.config.model import Diagnostic, Fallback, Family, Forward, Real
from pyldirectord.config.scan import (
    RealMatch,
    last_two_words,
    search_real,
    search_request_receive,
    search_spaced,
)
from pyldirectord.config.values import in_range

A = re.ASCII
# The reference's patterns (L2019-2177), searched; scan.py searches them in linear time:
#   real:    ADDR(->ADDR)?(:(\d+|[A-Za-z0-9_-]+))?\s+(.*)   (not anchored at the start, so
#            "192.168.6.2::5060 gate" matches from "5060"), with
#            ADDR = \d+\.\d+\.\d+\.\d+ | [A-Za-z0-9.-]+ | \[[0-9A-fa-f:]+\]
#   weight:  \s+(\d+)(.*)        request/receive: \s+"(.*)"[, ]\s*"(.*)"(.*)
#   l: / u:  \s+l:(\d+)(.*) / \s+u:(\d+)(.*)
FORWARD = re.compile(r"(\w+)(.*)", A)
FORWARDS: tuple[Forward, ...] = ("gate", "masq", "ipip")
WEIGHT_ERROR = f"weight must be in range 0..{WEIGHT_MAX}"
THRESHOLD_ERROR = "{} threshold must be in range 0..{}"


@dataclass(frozen=True, slots=True)
class RealAddress:
    """What the address part of a real line names, before its flags are read."""

    host: str
    range_end: str | None
    port_text: str  # "0" when the line gives no port
    start: int  # > 0 when the search skipped text before the address (spec 8 #10)


def real_address(value: str) -> RealAddress | None:
    match = search_real(value)
    if match is None:
        return None
    host = match.group(1)
    assert host is not None
    return RealAddress(host, match.group(3), match.group(5) or "0", match.start)


def real_flags(value: str) -> str:
    match: RealMatch | None = search_real(value)
    assert match is not None
    flags = match.group(6)
    assert flags is not None
    return flags


def with_leading_slash(request: str) -> str:
    return request if request.startswith("/") else "/" + request


def parse_real(
    value: str, line: int, address: RealAddress, file: str
) -> tuple[Real, list[Diagnostic]]:
    """The real for ``value``'s flags (``add_real_server``): raises ValueError with the
    reference's text; also returns notes about text the reference silently skips (spec 8 #11)."""
    flags = real_flags(value)
    notes: list[Diagnostic] = []
    forward_match = FORWARD.search(flags)
    if forward_match is None or forward_match.group(1) not in FORWARDS:
        raise ValueError("forward method must be gate, masq or ipip")
    forward: Forward = forward_match.group(1)  # type: ignore[assignment]
    if flags[: forward_match.start()].strip():
        notes.append(_skipped(file, line, flags[: forward_match.start()], "forward method"))
    rest = forward_match.group(2)
    weight_text, rest = _take("", rest, "weight", file, line, notes)
    weight = None if weight_text is None else in_range(weight_text, WEIGHT_MAX, WEIGHT_ERROR)
    request = receive = None
    found = search_request_receive(rest)
    if found:
        request, receive, rest = with_leading_slash(found[1]), found[2], found[3]
    lower_text, rest = _take("l:", rest, "l:", file, line, notes)
    upper_text, rest = _take("u:", rest, "u:", file, line, notes)
    lower = _threshold(lower_text, "lower")
    upper = _threshold(upper_text, "upper")
    if re.search(r"\S", rest, A):
        raise ValueError(f'Invalid real server line, around "{rest}"')
    if lower is not None and upper is None:
        notes.append(Diagnostic(file, line, "l: without u: leaves the upper threshold at 0; "
                                "the kernel rejects a lower threshold above the upper one"))
    port, port_name = port_value(address.port_text)
    real = Real(
        line=line, host=address.host, port=port, forward=forward,
        weight=1 if weight is None else weight, request=request, receive=receive,
        lower=lower or 0, upper=upper or 0, port_name=port_name, range_end=address.range_end,
    )  # fmt: skip
    return real, notes


def _take(
    marker: str, rest: str, what: str, file: str, line: int, notes: list[Diagnostic],
) -> tuple[str | None, str]:  # fmt: skip
    """The digits after the first "blanks + marker", and the text after them."""
    found = search_spaced(rest, marker)
    if found is None:
        return None, rest
    start, digits, after = found
    if rest[:start].strip():
        notes.append(_skipped(file, line, rest[:start], what))
    return digits, after


def _threshold(digits: str | None, which: str) -> int | None:
    if digits is None:
        return None
    return in_range(digits, THRESHOLD_MAX, THRESHOLD_ERROR.format(which, THRESHOLD_MAX))


def _skipped(file: str, line: int, text: str, what: str) -> Diagnostic:
    return Diagnostic(
        file, line, f'"{text.strip()}" before the {what} is silently ignored by the reference',
        hint="real=ADDR[:PORT] gate|masq|ipip [WEIGHT] [\"REQUEST\", \"RECEIVE\"] [l:N u:N]",
    )


def port_value(text: str) -> tuple[int, str | None]:
    """A port as written: a number in range is final; a name (or a number out of range, which
    the reference rejects only when it resolves) waits for the resolution pass."""
    number = bounded_int(text, PORT_MAX) if is_digits(text) else None
    if number is not None:
        return number, None
    return 0, text


PORT_SUFFIX = re.compile(r"(:(\d+|[A-Za-z0-9_-]+))?$", A)


def parse_fallback(value: str, family: Family, virtual_port: str | None, line: int) -> Fallback:
    """``parse_fallback``: the last one or two blank-separated tokens, ``HOST[:PORT] [FWD]``.

    ``virtual_port`` is the block's port as written (in a block), None for a global fallback.
    """
    forward_text: str | None = None
    host_port = value
    # The last one or two words (the reference's (\S+)(\s+(\S+))?\s*$, searched).
    words = last_two_words(value)
    if words:
        host_port, forward_text = words
    suffix = PORT_SUFFIX.search(host_port)
    assert suffix is not None  # an optional group before $ always matches
    port_text = suffix.group(2)
    host = host_port[: suffix.start()]
    if port_text is None:
        port_text = virtual_port
    forward: Forward = "gate"
    if forward_text is not None and forward_text not in ("", "0"):  # Perl truth
        if forward_text not in FORWARDS:
            raise ValueError("forward method must be gate, masq or ipip")
        forward = forward_text
    if port_text is None:
        return Fallback(line=line, host=host, port=None, forward=forward, family=family)
    port, port_name = port_value(port_text)
    return Fallback(line, host, port, forward, port_name, family)
