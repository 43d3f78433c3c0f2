"""The resolution pass: host and port names to numbers, ranges expanded, duplicates found,
and the files the reference opens while it reads the config checked.

The reference does all of this while it reads, so its first error depends on the order:
a global line is handled at its line, a block's fallback, address and reals when the block
ends, a ``monitorfile`` at its line. This pass replays that order over a parsed ``Config``
(see ``events``), so that ``load`` reports exactly the error the reference reports first.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from ipaddress import IPv4Address
from typing import Protocol

from pyldirectord.config.errors import ConfigError
from pyldirectord.config.limits import PORT_MAX, bounded_int, is_digits
from pyldirectord.config.model import (
    Config,
    Diagnostic,
    Fallback,
    Family,
    FileProbe,
    Real,
    Virtual,
    bracketed,
    virtual_id,
)
from pyldirectord.config.parser import parse_bytes
from pyldirectord.config.patterns import check_receive_patterns

MAX_RANGE = 65536  # reals from one A->B line; the reference has no limit (and a loop bug)


class Lookups(Protocol):
    """Name lookups as the reference does them (``ld_gethostbyname``, ``ld_getservbyname``)."""

    def host(self, name: str, family: Family) -> str | None:
        """The first address of ``family`` for ``name``, numeric, without brackets."""

    def service(self, name: str, protocol: str | None) -> int | None:
        """The /etc/services port of ``name`` for ``protocol`` (None: any protocol)."""


class SystemLookups:
    """getaddrinfo and getservbyname through the C library, like Socket6 and Perl."""

    def host(self, name: str, family: Family) -> str | None:
        af = socket.AF_INET6 if family == 6 else socket.AF_INET
        # Socket6 passes an empty name as NULL: the loopback address.
        try:
            infos = socket.getaddrinfo(name or None, 0, af)
        except (OSError, UnicodeError):
            return None
        if not infos:
            return None
        return str(infos[0][4][0])

    def service(self, name: str, protocol: str | None) -> int | None:
        try:
            return socket.getservbyname(name, protocol) if protocol else socket.getservbyname(name)
        except (OSError, UnicodeError):
            return None


FileCheck = Callable[[str], str | None]


def check_append(path: str) -> str | None:
    """Could the file be opened for append? The reason (strerror) if not.

    Unlike the reference this does not create a missing file: a missing file counts as
    openable when its directory is writable, so ``--check-config`` leaves no files behind.
    """
    if not path:
        return os.strerror(errno.ENOENT)
    try:
        _open_and_close(path)
        return None
    except FileNotFoundError:
        return os.strerror(errno.ENOENT)
    except OSError as error:
        return error.strerror or str(error)


def _open_and_close(path: str) -> None:
    """The rules of notify/appendfile.py, which the daemon writes with (config is the lowest
    layer, so they are restated here): the last component is never followed, the open never
    blocks (a FIFO without reader is ENXIO, not a hang), only a regular file will do."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                 | os.O_CLOEXEC, 0o640)  # fmt: skip
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
    finally:
        os.close(fd)


def check_append_no_create(path: str) -> str | None:
    if not path:
        return os.strerror(errno.ENOENT)
    if os.path.lexists(path):
        return check_append(path)
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        return os.strerror(errno.ENOENT)
    if not os.access(directory, os.W_OK | os.X_OK):
        return os.strerror(errno.EACCES)
    return None


def load(
    file: str,
    *,
    lookups: Lookups | None = None,
    file_check: FileCheck = check_append,
    hostname: str | None = None,
) -> Config:
    """Read, parse and resolve ``file``: the reference's ``read_config`` as one call."""
    try:
        with open(file, "rb") as handle:
            data = handle.read()
    except OSError:
        raise ConfigError(file, 0, f"can not open file {file}") from None
    return parse_and_resolve(data, file, lookups=lookups, file_check=file_check,
                             hostname=hostname)


def parse_and_resolve(
    data: bytes,
    file: str,
    *,
    lookups: Lookups | None = None,
    file_check: FileCheck = check_append,
    hostname: str | None = None,
) -> Config:
    """Parse then resolve; on a parse error, report a resolution error that comes first."""
    try:
        config = parse_bytes(data, file, hostname=hostname)
    except ConfigError as error:
        if error.partial is not None:
            resolve(error.partial, lookups=lookups, file_check=file_check,
                    open_virtual=error.open_virtual)  # fmt: skip
        raise
    resolved = resolve(config, lookups=lookups, file_check=file_check)
    check_receive_patterns(resolved, data)  # after every error the reference itself reports
    return resolved


@dataclass
class _Pass:
    config: Config
    lookups: Lookups
    file_check: FileCheck
    seen: set[str]
    warnings: list[Diagnostic]

    def fail(self, line: int, message: str) -> ConfigError:
        return ConfigError(self.config.path, line, message)


def resolve(
    config: Config,
    *,
    lookups: Lookups | None = None,
    file_check: FileCheck = check_append,
    open_virtual: bool = False,
) -> Config:
    """A copy of ``config`` with numeric addresses and ports, or the first ConfigError.

    ``open_virtual``: the last virtual was cut short by a parse error (no duplicate check).
    """
    if config.resolved:
        return config
    run = _Pass(config, lookups or SystemLookups(), file_check, set(), [])
    virtuals: dict[int, Virtual] = {}
    fallbacks: dict[int, Fallback] = {}
    last = len(config.virtuals) - 1
    for _, kind, index in sorted(events(config)):
        if kind == "probe":
            _probe(run, config.file_probes[index])
        elif kind == "fallback":
            fallbacks[index] = _global_fallback(run, config.globals.fallback_lines[index])
        else:
            virtuals[index] = _virtual(run, config.virtuals[index],
                                       check_duplicate=not (open_virtual and index == last))
    # In the order the reference prints them: at their lines while it reads.
    read_order = sorted((*config.warnings, *run.warnings), key=lambda w: (w.line <= 0, w.line))
    config = replace(config, warnings=tuple(read_order))
    return _resolved(config, [virtuals[i] for i in sorted(virtuals)], fallbacks)


def events(config: Config) -> Iterator[tuple[tuple[int, int], str, int]]:
    """Each check the reference makes while reading, keyed by when it makes it.

    A line's own work has key (line, 1); a block's end work happens when the line after it is
    read, before that line's own work: (line, 0); a block ended by the end of the file comes
    after its last line: (line, 2).
    """
    for index, probe in enumerate(config.file_probes):
        yield (probe.line, 1), "probe", index
    for index, fallback in enumerate(config.globals.fallback_lines):
        yield (fallback.line, 1), "fallback", index
    for index, virtual in enumerate(config.virtuals):
        yield (virtual.end_line, 2 if virtual.ended_at_eof else 0), "virtual", index


def _probe(run: _Pass, probe: FileProbe) -> None:
    if probe.kind == "maintenancedir":
        if not os.path.isdir(probe.path):
            run.warnings.append(Diagnostic(run.config.path, probe.line,
                                           "maintenance directory does not exist"))
        return
    reason = run.file_check(probe.path)
    if reason is None:
        return
    if probe.kind == "logfile":
        raise run.fail(probe.line, f"unable to open logfile: {probe.path}")
    raise run.fail(probe.line, f"unable to open monitorfile {probe.path}: {reason}")


def _fallback(run: _Pass, fallback: Fallback, protocol: str) -> Fallback:
    """``_ld_read_config_fallback_resolve``: the host, then the port if it is not 0."""
    address = run.lookups.host(_unbracket(fallback.host), fallback.family)
    if address is None:
        version = "IPv6" if fallback.family == 6 else "IPv4"
        raise run.fail(fallback.line, f"invalid {version} address or could not resolve for "
                       f"fallback server: {fallback.host}")  # fmt: skip
    port = fallback.port
    if fallback.port_name is not None:
        port = _port(run, fallback.port_name, protocol)
        if not port:
            raise run.fail(fallback.line, "invalid port for fallback server")
    return replace(fallback, host=address, port=port, port_name=None)


def _global_fallback(run: _Pass, fallback: Fallback) -> Fallback:
    # Parsed and resolved once per protocol; pyldirectord keeps the tcp result.
    resolved = _fallback(run, fallback, "tcp")
    _fallback(run, fallback, "udp")
    return resolved


def _port(run: _Pass, text: str, protocol: str | None) -> int | None:
    if is_digits(text):
        return bounded_int(text, PORT_MAX)
    return run.lookups.service(text, protocol)


def _unbracket(host: str) -> str:
    start, end = host.find("["), host.rfind("]")
    return host[start + 1 : end] if start >= 0 and end > start else host


def _virtual(run: _Pass, virtual: Virtual, *, check_duplicate: bool) -> Virtual:
    fallback = virtual.fallback
    if fallback is not None:
        fallback = _fallback(run, fallback, virtual.protocol)
    virtual = replace(virtual, fallback=fallback)
    if virtual.host is not None:
        virtual = _virtual_address(run, virtual)
    reals: list[Real] = []
    for real in virtual.reals:
        reals.extend(_real(run, virtual, real))
    virtual = replace(virtual, reals=tuple(reals))
    if check_duplicate:
        key = virtual_id(virtual)
        if key in run.seen:
            error = run.fail(virtual.end_line, "duplicate virtual server")
            if virtual.ended_at_eof and virtual.line == virtual.end_line:
                error.hint = ("a virtual= line that ends the file is read twice by the "
                              "reference; add its directives or an empty line after it")
            raise error
        run.seen.add(key)
    return virtual


def _virtual_address(run: _Pass, virtual: Virtual) -> Virtual:
    assert virtual.host is not None
    address = run.lookups.host(virtual.host, virtual.family)
    port: int | None = virtual.port
    if address is not None and virtual.port_name is not None:
        port = _port(run, virtual.port_name, virtual.protocol)
    if address is None or port is None:
        raise run.fail(virtual.line, "invalid address for virtual service")
    return replace(virtual, host=address, port=port, port_name=None)


def _real(run: _Pass, virtual: Virtual, real: Real) -> list[Real]:
    first = run.lookups.host(_unbracket(real.host), virtual.family)
    if first is None:
        raise run.fail(real.line, f"invalid address ({real.host}) for real server "
                       "(could not resolve host)")  # fmt: skip
    port = real.port
    if real.port_name is not None:
        found = _port(run, real.port_name, None)  # any protocol, like getservbyname(p, "")
        if found is None:
            raise run.fail(real.line, f"invalid port ({real.port_name}) for real server "
                           "(could not resolve port)")  # fmt: skip
        port = found
    resolved = replace(real, host=first, port=port, port_name=None, range_end=None)
    if real.range_end is None:
        return [resolved]
    last = run.lookups.host(_unbracket(real.range_end), virtual.family)
    if last is None:
        raise run.fail(real.line, f"invalid address ({real.range_end}) for real server "
                       "(could not resolve end host)")  # fmt: skip
    return [replace(resolved, host=host) for host in _range(run, real.line, first, last,
                                                            virtual.family)]  # fmt: skip


def _range(run: _Pass, line: int, first: str, last: str, family: Family) -> list[str]:
    """Every address from ``first`` to ``last``, compared as numbers (the reference compares
    their decimal strings and silently yields too few reals or none, spec 8 #12)."""
    if family == 6:
        raise run.fail(line, "Address range for IPv6 is not supported yet")
    low, high = int(IPv4Address(first)), int(IPv4Address(last))
    if low > high:
        raise run.fail(line, f"Invalid Range: {first}-{last}: First value must be greater "
                       "than or equal to the second value")  # fmt: skip
    if high - low >= MAX_RANGE:
        raise run.fail(line, f"Invalid Range: {first}-{last}: more than {MAX_RANGE} "
                       "addresses (pyldirectord limit)")  # fmt: skip
    return [str(IPv4Address(number)) for number in range(low, high + 1)]


def _resolved(config: Config, virtuals: list[Virtual], fallbacks: dict[int, Fallback]) -> Config:
    globals_ = config.globals
    lines = tuple(fallbacks.get(i, f) for i, f in enumerate(globals_.fallback_lines))
    v4 = [f for f in lines if f.family == 4]
    v6 = [f for f in lines if f.family == 6]
    globals_ = replace(
        globals_, fallback_lines=lines,
        fallback=v4[-1] if v4 else globals_.fallback,
        fallback6=v6[-1] if v6 else globals_.fallback6,
    )  # fmt: skip
    warnings = list(config.warnings)
    if not globals_.fork:
        warnings += [
            Diagnostic(config.path, -1, f"checkinterval in virtual service {virtual_id(v)} "
                       "ignored when fork=no")
            for v in virtuals if v.checkinterval is not None
        ]  # fmt: skip
    return replace(config, globals=globals_, virtuals=tuple(virtuals),
                   warnings=tuple(warnings), resolved=True)  # fmt: skip


__all__ = ["Lookups", "SystemLookups", "bracketed", "load", "parse_and_resolve", "resolve"]
