"""Value rules shared by global and in-block directives, as the Perl code applies them.

Each function takes the text a directive's pattern captured and returns the value, or raises
``ValueError`` carrying the reference's error text; the parser adds file and line.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pyldirectord.config.limits import COUNT_MAX, bounded_int
from pyldirectord.config.model import EMAIL_STATUSES, DaemonStatus

A = re.ASCII
DIGITS = re.compile(r"(\d+)", A)
BLANKS = " \t\n\r\f\v"  # Perl's (and re.ASCII's) \s


class OutOfRange(ValueError):
    """A value the reference takes but the kernel (or a timer) cannot hold: the message is
    the directive's own error text, ``hint`` says what range is accepted."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def hint_of(error: ValueError) -> str | None:
    return error.hint if isinstance(error, OutOfRange) else None


def in_range(digits: str, maximum: int, error: str, *, minimum: int = 0) -> int:
    """``digits`` as a number in ``minimum..maximum``, else ``OutOfRange(error)``."""
    value = bounded_int(digits, maximum)
    if value is None or value < minimum:
        raise OutOfRange(error, f"{digits[:20]}{'...' if len(digits) > 20 else ''} is "
                         f"outside {minimum}..{maximum}")
    return value


def first_digits(value: str) -> str | None:
    """The first run of digits anywhere in the value (Perl's ``$1 =~ /(\\d+)/``)."""
    match = DIGITS.search(value)
    return match.group(1) if match else None


def perl_true(text: str) -> bool:
    """Perl's truth of a string: only "" and "0" are false (so "00" is true)."""
    return text not in ("", "0")


def count(value: str, error: str, *, positive: bool = False) -> int:
    """``$1 =~ /(\\d+)/ && $1``: the first digit run, which must be true in Perl.

    ``positive`` adds the global timeouts' extra ``$1 > 0`` (which rejects "00").
    """
    digits = first_digits(value)
    if digits is None or not perl_true(digits):
        raise ValueError(error)
    number = in_range(digits, COUNT_MAX, error)
    if positive and number == 0:
        raise ValueError(error)
    return number


def yes_no(value: str, error: str) -> bool:
    """Exactly ``yes`` or ``no``: trailing blanks, comments or a CR make it an error."""
    if value not in ("yes", "no"):
        raise ValueError(error)
    return value == "yes"


def non_empty(value: str, error: str) -> str:
    if not value:
        raise ValueError(error)
    return value


def emailalert(value: str) -> str:
    """Enclosing quotes are stripped only when the whole value is one quoted string."""
    match = re.match(r'^"([^"]*)"$', value, A)
    if match:
        value = match.group(1)
    return non_empty(value, "no email address specified")


def emailalertfreq(digits: str) -> int:
    if not digits:
        raise ValueError("invalid email alert frequency")
    return in_range(digits, COUNT_MAX, "invalid email alert frequency")


def emailalertstatus(value: str) -> frozenset[DaemonStatus]:
    """A comma list of all/none/starting/running/stopping/reloading (``parse_emailalertstatus``)."""
    items = split_commas(value)
    while items and items[-1] == "":  # Perl's split drops trailing empty fields
        items.pop()
    has_none = "none" in items
    status: set[DaemonStatus] = set()
    for item in items:
        if item == "none":
            continue
        if item == "all":
            status |= EMAIL_STATUSES
        elif item in EMAIL_STATUSES:
            status.add(item)
        else:
            raise ValueError(f'invalid email alert status at: "{item}"')
        if has_none:
            raise ValueError(f'invalid email alert status: "{item}" specified with "none"')
    return frozenset(status)


def split_commas(value: str) -> list[str]:
    """``split(/\\s*,\\s*/, value)`` without the regex, whose search is quadratic in a long
    run of blanks: the blanks next to each comma go, those at the ends stay."""
    pieces = value.split(",")
    if len(pieces) == 1:
        return pieces
    last = len(pieces) - 1
    return [
        piece.lstrip(BLANKS) if index == last else
        piece.rstrip(BLANKS) if index == 0 else piece.strip(BLANKS)
        for index, piece in enumerate(pieces)
    ]  # fmt: skip


def smtp(value: str) -> str:
    """The leading run of host characters, and ``:port`` when one follows it.

    The reference silently drops the port (spec 8 #17); decisions.md accepts it as our
    extension (``smtp_port`` tells the parser to warn about it)."""
    match = re.match(r"[0-9A-Za-z._+-]+(?::[0-9]+)?", value, A)
    if match is None:
        raise ValueError("invalid SMTP server address")
    return match.group(0)


def smtp_port(value: str) -> bool:
    """Whether an ``smtp`` value (as ``smtp`` returns it) names a port."""
    return ":" in value


def listen_address(value: str) -> tuple[str, int]:
    """``IP:PORT`` or ``[IPv6]:PORT`` (a pyldirectord extension's value): where to listen.

    An address literal only, never a name: what the daemon binds must not depend on DNS.
    """
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([0-9.]+):(\d{1,5})", value, A)
    if match is None:
        raise ValueError("invalid listen address (expected IP:PORT or [IPv6]:PORT)")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"invalid listen address: {host} is not an IP address") from None
    if not 0 < port < 65536:
        raise ValueError(f"invalid listen address: port {port} out of range")
    return host, port


WORKERS_MAX = 64  # check processes; far more than a director's checks can use


def workers(value: str) -> int | Literal["auto"]:
    """``workers=N`` (1..WORKERS_MAX) or ``workers=auto`` (a pyldirectord extension's value).

    ``auto`` stays a word here: how many CPUs the daemon may use is the host's business,
    read where the daemon starts (runtime.workers.worker_count), not by the pure parser.
    """
    if value == "auto":
        return "auto"
    if re.fullmatch(r"\d+", value, A) is None:
        raise ValueError("invalid workers value (expected a number of processes or auto)")
    return in_range(value, WORKERS_MAX, "invalid workers value", minimum=1)


def absolute_path(value: str, name: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{name} must be an absolute path")
    return value
