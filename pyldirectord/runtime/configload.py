"""The config as the daemon and the command line (``start``, ``reload``, ``--check-config``)
load it: read, parse, resolve (the reference's ``read_config``), then refuse what the director
could not run as written: a check it cannot perform (``core.checksupport``) or an entry the
kernel's table cannot hold (``core.table_check``)."""

from __future__ import annotations

from pyldirectord.config import resolve
from pyldirectord.config.model import Config
from pyldirectord.core.checksupport import require_supported_checks
from pyldirectord.core.table_check import check_table


def load(
    file: str, *, file_check: resolve.FileCheck = resolve.check_append,
    hostname: str | None = None,
) -> Config:  # fmt: skip
    """``resolve.load``, then the checks' and the table's passes: a ConfigError at its line,
    or a config the director can apply."""
    config = require_supported_checks(resolve.load(file, file_check=file_check,
                                                   hostname=hostname))  # fmt: skip
    check_table(config)
    return config
