"""``maintenancedir``: a file named after a real takes it out of service (spec 3.7).

Before each check the reference tests, in order, ``<ip>:<port>``, ``<ip>``, ``<fqdn>:<port>``,
``<fqdn>``, ``<short>:<port>``, ``<short>`` in the directory, where ``fqdn`` is the real's PTR
name. It resolves that name on every check of every real (blocking DNS in the check loop);
here it is cached, and looked up only when a file could still match by name.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pyldirectord.config.model import bracketed

ReverseResolver = Callable[[str], Awaitable[str | None]]
# the reference's short-name rule: lower-case, at least two characters, then a dot
_SHORT_NAME = re.compile(r"^([a-z][a-z0-9-]+)\.")


def candidate_names(ip: str, port: int, fqdn: str | None) -> tuple[str, ...]:
    """The file names that put ``ip:port`` in maintenance, in the reference's order.

    ``ip`` is numeric (IPv6 gets brackets, as in the reference's ``$$r{server}``); ``port``
    is the real's configured port (0 when the line has none), not the check port.
    """
    host = bracketed(ip)
    names = [f"{host}:{port}", host]
    if fqdn:
        names += [f"{fqdn}:{port}", fqdn]
        short = _SHORT_NAME.match(fqdn)
        if short:
            names += [f"{short.group(1)}:{port}", short.group(1)]
    return tuple(names)


async def reverse_lookup(ip: str, timeout: float = 5.0) -> str | None:
    """The PTR name of ``ip`` (``getnameinfo`` with ``NI_NAMEREQD``), or None."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            name, _ = await loop.getnameinfo((ip.strip("[]"), 0), socket.NI_NAMEREQD)
    except (OSError, TimeoutError):
        return None
    return name


@dataclass(slots=True)
class _Cached:
    name: str | None
    expires: float


class ReverseNameCache:
    """PTR names by address, kept ``ttl`` seconds (``negative_ttl`` for no name).

    Concurrent lookups of one address share a single query.
    """

    def __init__(
        self, resolver: ReverseResolver = reverse_lookup, *,
        clock: Callable[[], float] = time.monotonic, ttl: float = 300.0,
        negative_ttl: float = 60.0,
    ) -> None:  # fmt: skip
        self._resolver = resolver
        self._clock = clock
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._names: dict[str, _Cached] = {}
        self._pending: dict[str, asyncio.Task[str | None]] = {}

    async def name(self, ip: str) -> str | None:
        cached = self._names.get(ip)
        if cached is not None and cached.expires > self._clock():
            return cached.name
        task = self._pending.get(ip)
        if task is None:
            task = asyncio.ensure_future(self._lookup(ip))
            self._pending[ip] = task
        # shielded: one caller's cancellation must not cancel the others' shared lookup
        return await asyncio.shield(task)

    async def _lookup(self, ip: str) -> str | None:
        try:
            name = await self._resolver(ip)
        except Exception:
            name = None  # a broken resolver means "no name", never a failed check loop
        finally:
            del self._pending[ip]
        ttl = self._ttl if name else self._negative_ttl
        self._names[ip] = _Cached(name, self._clock() + ttl)
        return name


class MaintenanceDir:
    """The filesystem side: which candidate file, if any, exists in the directory."""

    def __init__(
        self, directory: str, names: ReverseNameCache,
        exists: Callable[[str], bool] = os.path.exists,
    ) -> None:  # fmt: skip
        self.directory = directory
        self._names = names
        self._exists = exists

    async def match(self, ip: str, port: int) -> str | None:
        """The first candidate file name present (the reason to log), or None."""
        by_address = candidate_names(ip, port, None)
        for name in by_address:
            if self._exists(os.path.join(self.directory, name)):
                return name
        if not self._has_entries():
            return None  # the usual case: no DNS at all
        fqdn = await self._names.name(ip)
        for name in candidate_names(ip, port, fqdn)[len(by_address) :]:
            if self._exists(os.path.join(self.directory, name)):
                return name
        return None

    def _has_entries(self) -> bool:
        try:
            with os.scandir(self.directory) as entries:
                return any(True for _ in entries)
        except OSError:
            return False
