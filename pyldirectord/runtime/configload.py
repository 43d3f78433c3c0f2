"""The config as ``start``, ``reload`` and ``--check-config`` load it: parsed, resolved, and
refused when one of its checks cannot run as written (``core.checksupport``)."""

from __future__ import annotations

from pyldirectord.config.model import Config
from pyldirectord.config.resolve import FileCheck, check_append, load
from pyldirectord.core.checksupport import require_supported_checks


def load_config(path: str, *, file_check: FileCheck = check_append) -> Config:
    """``resolve.load``, then the checks' pass; raises the first ConfigError."""
    return require_supported_checks(load(path, file_check=file_check))
