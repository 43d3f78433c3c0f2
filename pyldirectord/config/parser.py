"""ldirectord.cf text -> ``Config``, or the first ``ConfigError`` the reference would report.

Pure: no DNS, no /etc/services, no file opened. Names stay as written (``resolve.py`` turns
them into addresses and ports), and the files the reference opens while reading (logfile,
monitorfile) are listed in ``Config.file_probes`` for the validation pass.

This module reads blocks (``virtual=`` and, at a block's end, its ``real=`` lines); the
directive tables are in ``global_directives`` and ``block_directives``.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import replace

from pyldirectord.config.block_directives import REAL_DIRECTIVE, block_directive
from pyldirectord.config.errors import ConfigError
from pyldirectord.config.global_directives import global_directive
from pyldirectord.config.lexer import (
    ENCODING,
    ERRORS,
    A,
    BlockEnd,
    BlockStart,
    Directive,
    Global,
    Token,
    tokens,
)
from pyldirectord.config.model import Config, Family, Real, Virtual
from pyldirectord.config.reals import parse_real, port_value, real_address
from pyldirectord.config.state import Block, State, Updates


def default_hostname() -> str:
    """The reference's HOSTNAME: the environment's, else ``uname -n``."""
    return os.environ.get("HOSTNAME") or os.uname().nodename


def parse(text: str, file: str, *, hostname: str | None = None) -> Config:
    """Parse ``text`` (read from ``file``, named in messages as given) the reference's way."""
    state = State(file, hostname if hostname is not None else default_hostname())
    for token in tokens(text):
        _dispatch(state, token)
    return state.config()


def parse_bytes(data: bytes, file: str, *, hostname: str | None = None) -> Config:
    """The file's bytes: UTF-8, with any other byte kept as a surrogate escape."""
    return parse(data.decode(ENCODING, ERRORS), file, hostname=hostname)


def _dispatch(state: State, token: Token) -> None:
    if isinstance(token, BlockStart):
        state.block = _open_block(state, token)
    elif isinstance(token, Directive):
        assert state.block is not None
        block_directive(state, state.block, token)
    elif isinstance(token, BlockEnd):
        assert state.block is not None
        _close_block(state, state.block, token)
        state.block = None
    elif isinstance(token, Global):
        global_directive(state, token)


# --- virtual= --------------------------------------------------------------------------------

V4_PORT = re.compile(r"^(\d+\.\d+\.\d+\.\d+):([0-9A-Za-z_-]+)", A)
HOST_PORT = re.compile(r"^([0-9A-Za-z._+-]+):([0-9A-Za-z_-]+)", A)
FWMARK = re.compile(r"^(\d+)", A)
V6_PORT = re.compile(r"^\[([0-9A-Fa-f:]+)\]:([0-9A-Za-z_-]+)", A)


def _open_block(state: State, start: BlockStart) -> Block:
    family: Family = 6 if start.family == 6 else 4
    host, port_text, fwmark = _virtual_address(state, start, family)
    fields: Updates = {"line": start.number, "family": family}
    if fwmark is not None:
        fields.update(protocol="fwm", host=None, port=0, fwmark=fwmark, service="none")
        return Block(start, fields, "0")
    assert host is not None and port_text is not None
    port, port_name = port_value(port_text)
    protocol = "udp" if port_text in ("53", "domain") else "tcp"
    fields.update(protocol=protocol, host=host, port=port, port_name=port_name)
    return Block(start, fields, port_text)


def _virtual_address(
    state: State, start: BlockStart, family: Family
) -> tuple[str | None, str | None, int | None]:
    value = start.value
    match = V4_PORT.match(value) if family == 4 else None
    match = match or HOST_PORT.match(value)
    if match:
        return match.group(1), match.group(2), None
    match = FWMARK.match(value)
    if match:
        _fwmark_quirks(state, start, match.group(1))
        return None, None, int(match.group(1))
    match = V6_PORT.match(value)
    if match and family == 4:
        raise state.error(
            start.number, 'cannot specify an IPv6 address here. please use "virtual6" instead.'
        )
    if match:
        try:
            socket.inet_pton(socket.AF_INET6, match.group(1))
        except OSError:
            raise state.error(start.number, "invalid ipv6 address for virtual server") from None
        return match.group(1), match.group(2), None
    raise state.error(start.number, "invalid address for virtual server")


def _fwmark_quirks(state: State, start: BlockStart, mark: str) -> None:
    rest = start.value[len(mark) :]
    if rest[:1] == ".":
        state.quirk(start.number, f"virtual={start.value.strip()} has no port: the reference "
                    f"reads it as firewall mark {int(mark)}, and so does pyldirectord",
                    hint="write virtual=ADDRESS:PORT, or the mark alone for a fwmark service")
    elif int(mark) == 0:
        state.quirk(start.number, "firewall mark 0 is accepted by the reference; "
                    "its documentation asks for a mark > 0")  # fmt: skip


def _close_block(state: State, block: Block, end: BlockEnd) -> None:
    """The block's end: its real lines are read now, after every other directive."""
    fields = dict(block.fields, end_line=end.number, ended_at_eof=end.at_eof)
    reals: list[Real] = []
    for directive in block.reals:
        real = _real_line(state, block, fields, reals, directive)
        reals.append(real)
    state.virtuals.append(Virtual(**fields, reals=tuple(reals)))


def _real_line(
    state: State, block: Block, fields: Updates, reals: list[Real], directive: Directive
) -> Real:
    value = REAL_DIRECTIVE.match(directive.text)
    assert value is not None
    text = value.group(3)
    address = real_address(text)
    if address is None:
        raise _cut_short(state, fields, reals, directive.number,
                         "invalid address for real server (wrong format)")  # fmt: skip
    if address.start > 0:
        state.quirk(directive.number, f'real={text.strip()}: the reference reads the address '
                    f'from "{address.host}", skipping what comes before it',
                    hint="check for a doubled ':' or stray characters before the address")
    try:
        real, notes = parse_real(text, directive.number, address, state.file)
    except ValueError as error:
        # The reference resolves this real's names before it reads its flags: keep them in
        # the partial config so the resolution pass can report a failure there first.
        port, port_name = port_value(address.port_text)
        pending = Real(directive.number, address.host, port, "gate", port_name=port_name,
                       range_end=address.range_end)  # fmt: skip
        raise _cut_short(state, fields, [*reals, pending], directive.number, str(error)) from None
    state.quirks.extend(notes)
    return real


def _cut_short(
    state: State, fields: Updates, reals: list[Real], line: int, message: str
) -> ConfigError:
    partial = replace(state.config(), virtuals=(*state.virtuals, Virtual(**fields,
                      reals=tuple(reals))))  # fmt: skip
    return ConfigError(state.file, line, message, partial=partial, open_virtual=True)


