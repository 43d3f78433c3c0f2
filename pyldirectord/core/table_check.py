"""After resolution: every table entry the config names can be built.

The parser refuses each value the kernel cannot hold at its line; this builds the IPVS
service of every virtual and the destination of every real (up and quiesced) and fallback
with the table model's own validation, so that a value the parser let through by mistake is
still a ``ConfigError`` at its line before `start` reports ready or a reload swaps configs,
instead of an exception inside the running director (``runtime/configload.py`` runs it
after every load).
"""

from __future__ import annotations

from pyldirectord.config.errors import ConfigError
from pyldirectord.config.model import Config, effective_fallback, virtual_id
from pyldirectord.core.desired import fallback_dest, ipvs_service, real_dest, service_key
from pyldirectord.core.table import normal_dest


def check_table(config: Config) -> None:
    """Raise the first entry the table model refuses, at the line that configures it."""
    for virtual in config.virtuals:
        line = virtual.line
        try:
            key = service_key(virtual)
            ipvs_service(virtual)
            for real in virtual.reals:
                line = real.line
                for up in (True, False):
                    normal_dest(key, real_dest(real, up))
            fallback = effective_fallback(virtual, config.globals)
            if fallback is not None:
                line = fallback.line
                normal_dest(key, fallback_dest(virtual, fallback))
        except ValueError as error:
            raise ConfigError(config.path, line, f"virtual service {virtual_id(virtual)} "
                              f"cannot be held by IPVS: {error}") from None  # fmt: skip
