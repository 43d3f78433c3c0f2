"""Helpers for parser tests: parse text, resolve with a fake resolver (no DNS, no files)."""

from __future__ import annotations

import socket
from typing import ClassVar

import pytest

from pyldirectord.config.errors import ConfigError
from pyldirectord.config.model import Config, Family
from pyldirectord.config.parser import parse
from pyldirectord.config.resolve import parse_and_resolve

FILE = "test.cf"


class FakeLookups:
    """Hosts and services from small tables, so resolution tests never touch the network."""

    hosts: ClassVar[dict[tuple[str, Family], str]] = {
        ("localhost", 4): "127.0.0.1",
        ("localhost", 6): "::1",
        ("web1", 4): "192.0.2.11",
        ("web9", 4): "192.0.2.19",
    }
    services: ClassVar[dict[tuple[str, str | None], int]] = {
        ("http", "tcp"): 80, ("http", None): 80, ("domain", "udp"): 53,
        ("domain", "tcp"): 53, ("domain", None): 53, ("mysql", "tcp"): 3306,
        ("mysql", None): 3306, ("https", "tcp"): 443, ("https", "udp"): 443,
        ("https", None): 443,
    }  # fmt: skip

    def host(self, name: str, family: Family) -> str | None:
        if family == 4 and _is_v4(name):
            return name
        if family == 4 and name.isdigit():  # inet_aton's one-number form: "5060"
            try:
                return socket.inet_ntoa(socket.inet_aton(name))
            except OSError:  # beyond 2^32: getaddrinfo fails too
                return None
        if family == 6 and ":" in name:
            return name
        return self.hosts.get((name, family))

    def service(self, name: str, protocol: str | None) -> int | None:
        return self.services.get((name, protocol))


def _is_v4(name: str) -> bool:
    parts = name.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


def no_file_problem(path: str) -> str | None:
    return None


def parsed(text: str) -> Config:
    return parse(text, FILE, hostname="director")


def loaded(text: str) -> Config:
    return parse_and_resolve(
        text.encode("utf-8", "surrogateescape"), FILE, lookups=FakeLookups(),
        file_check=no_file_problem,
        hostname="director",
    )  # fmt: skip


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        loaded(text)
    return info.value
