"""Hints for ``--check-config`` errors: the reference's message says what, a hint says how.

Pure functions of the offending line; they never change the verdict or the message.
"""

from __future__ import annotations

import re

GLOBAL_ONLY = ("autoreload", "callback", "logfile", "execute", "fork", "supervised",
               "readdquiescent", "emailalertfrom", "maintenancedir")  # fmt: skip
BLOCK_ONLY = ("real", "real6", "request", "receive", "checktype", "checkcommand", "checkport",
              "login", "passwd", "database", "secret", "scheduler", "persistent", "netmask",
              "protocol", "service", "httpmethod", "virtualhost", "monitorfile", "servicename",
              "comment", "ops", "schedflags", "load")  # fmt: skip
QUOTED = ("request", "receive", "login", "passwd", "database", "secret", "load", "callback",
          "logfile")  # fmt: skip
YES_NO = re.compile(r"(\w+) must be 'yes' or 'no'")


def _name(text: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9_]+)\s*=", text, re.ASCII)
    return match.group(1) if match else ""


def global_hint(raw: str, message: str) -> str | None:
    """A hint for an error on a top-level line."""
    text = raw.rstrip("\n")
    name = _name(text)
    if message.startswith("Unknown command"):
        if not text.strip():
            return None
        if text[:1].isspace():
            return ("global directives start in column 0; an indented line here means an "
                    "empty or under-indented line (< 4 columns) ended the virtual block above")
        if name in BLOCK_ONLY:
            return f"{name}= is only valid inside a virtual block (indent it under virtual=)"
        if name in QUOTED:
            return f'{name} needs its value in double quotes: {name}="..."'
        if name.lower() != name:
            return "directive names are lower case"
    return _value_hint(text, message)


def block_hint(raw: str, text: str, message: str) -> str | None:
    """A hint for an error on an in-block line (``text`` after comment and tab rules)."""
    name = _name(text)
    if message.startswith("Unknown command"):
        if not text.strip():
            return "a line of blanks inside a block; an empty line ends the block"
        if "#" in raw and '"' in raw.split("#", 1)[0]:
            return "inside a block '#' starts a comment even within quotes"
        if name in GLOBAL_ONLY:
            return f"{name} is a global directive: write it in column 0, outside the block"
        if name in QUOTED:
            return f'{name} needs its value in double quotes: {name}="..."'
        if name.lower() != name:
            return "directive names are lower case"
    return _value_hint(raw.rstrip("\n"), message)


def _value_hint(text: str, message: str) -> str | None:
    if YES_NO.fullmatch(message):
        value = text.split("=", 1)[1] if "=" in text else ""
        value = value.lstrip(" \t")
        return f'exactly yes or no, with nothing after it (got "{value}")'.replace("\r", "\\r")
    return None
