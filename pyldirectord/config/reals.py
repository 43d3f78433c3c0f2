"""``real=`` and ``fallback=`` values (``_ld_read_config_real_resolve``, ``add_real_server``,
``parse_fallback``): the reference's patterns, searched the way it searches them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyldirectord.config.model import Diagnostic, Fallback, Family, Forward, Real

A = re.ASCII
# Not anchored at the start, like L2019: "192.168.6.2::5060 gate" matches from "5060".
# [0-9A-fa-f:] is the reference's class: A-f spans A-Z, [\]^_` and a-f.
_ADDR = r"(?:\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-fa-f:]+\])"
REAL = re.compile(rf"({_ADDR})(->({_ADDR}))?(:(\d+|[A-Za-z0-9_-]+))?\s+(.*)", A)
FORWARD = re.compile(r"(\w+)(.*)", A)
WEIGHT = re.compile(r"\s+(\d+)(.*)", A)
REQUEST_RECEIVE = re.compile(r'\s+"(.*)"[, ]\s*"(.*)"(.*)', A)
LOWER = re.compile(r"\s+l:(\d+)(.*)", A)
UPPER = re.compile(r"\s+u:(\d+)(.*)", A)
FORWARDS: tuple[Forward, ...] = ("gate", "masq", "ipip")


@dataclass(frozen=True, slots=True)
class RealAddress:
    """What the address part of a real line names, before its flags are read."""

    host: str
    range_end: str | None
    port_text: str  # "0" when the line gives no port
    start: int  # > 0 when the search skipped text before the address (spec 8 #10)


def real_address(value: str) -> RealAddress | None:
    match = REAL.search(value)
    if match is None:
        return None
    return RealAddress(match.group(1), match.group(3), match.group(5) or "0", match.start())


def real_flags(value: str) -> str:
    match = REAL.search(value)
    assert match is not None
    return match.group(6)


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
    weight, rest = _take(WEIGHT, rest, "weight", file, line, notes)
    request = receive = None
    match = REQUEST_RECEIVE.search(rest)
    if match:
        request, receive, rest = with_leading_slash(match.group(1)), match.group(2), match.group(3)
    lower, rest = _take(LOWER, rest, "l:", file, line, notes)
    upper, rest = _take(UPPER, rest, "u:", file, line, notes)
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
    pattern: re.Pattern[str], rest: str, what: str, file: str, line: int,
    notes: list[Diagnostic],
) -> tuple[int | None, str]:  # fmt: skip
    match = pattern.search(rest)
    if match is None:
        return None, rest
    if rest[: match.start()].strip():
        notes.append(_skipped(file, line, rest[: match.start()], what))
    return int(match.group(1)), match.group(2)


def _skipped(file: str, line: int, text: str, what: str) -> Diagnostic:
    return Diagnostic(
        file, line, f'"{text.strip()}" before the {what} is silently ignored by the reference',
        hint="real=ADDR[:PORT] gate|masq|ipip [WEIGHT] [\"REQUEST\", \"RECEIVE\"] [l:N u:N]",
    )


def port_value(text: str) -> tuple[int, str | None]:
    """A port as written: a number in range is final; a name (or a number out of range, which
    the reference rejects only when it resolves) waits for the resolution pass."""
    if text.isascii() and text.isdigit() and int(text) < 65536:
        return int(text), None
    return 0, text


FALLBACK_TOKENS = re.compile(r"(\S+)(\s+(\S+))?\s*$", A)
PORT_SUFFIX = re.compile(r"(:(\d+|[A-Za-z0-9_-]+))?$", A)


def parse_fallback(value: str, family: Family, virtual_port: str | None, line: int) -> Fallback:
    """``parse_fallback``: the last one or two blank-separated tokens, ``HOST[:PORT] [FWD]``.

    ``virtual_port`` is the block's port as written (in a block), None for a global fallback.
    """
    forward_text: str | None = None
    host_port = value
    tokens = FALLBACK_TOKENS.search(value)
    if tokens:
        forward_text, host_port = tokens.group(3), tokens.group(1)
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
