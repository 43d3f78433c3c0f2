"""Refuse a config whose checks cannot run as written (a pass after resolution).

The reference accepts ``service=oracle`` and then fails at check time (Debian has no
DBD::Oracle); pyldirectord has no Oracle client either. Rather than check such a virtual with
something weaker, or report its reals up unchecked, the config is invalid: ``--check-config``,
``start`` and ``reload`` report the virtual's ``service=`` line (or its ``virtual=`` line when
the service comes from the port) and change nothing.
"""

from __future__ import annotations

from pyldirectord.checks.registry import unsupported_reason
from pyldirectord.config.errors import ConfigError
from pyldirectord.config.model import Config, service_of


def require_supported_checks(config: Config) -> Config:
    """``config`` itself, or the ConfigError of its first check that cannot run."""
    for virtual in config.virtuals:
        why = unsupported_reason(virtual.checktype, service_of(virtual))
        if why is not None:
            raise ConfigError(config.path, virtual.service_line or virtual.line, why)
    return config
