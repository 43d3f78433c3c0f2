"""The config as the daemon and the command line load it: read, parse, resolve (the
reference's ``read_config``), then check that the kernel's table can hold every entry."""

from __future__ import annotations

from pyldirectord.config import resolve
from pyldirectord.config.model import Config
from pyldirectord.core.table_check import check_table


def load(
    file: str, *, file_check: resolve.FileCheck = resolve.check_append,
    hostname: str | None = None,
) -> Config:  # fmt: skip
    """``resolve.load`` and ``check_table``: a ConfigError at its line, or a config the
    director can apply."""
    config = resolve.load(file, file_check=file_check, hostname=hostname)
    check_table(config)
    return config
