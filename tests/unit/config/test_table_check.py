"""The resolution pass ends by building every table entry: a value that reached the model
without the parser's range checks is still refused at its line, before `start` reports
ready or a reload swaps configs (issue 12)."""

from __future__ import annotations

import pytest

from pyldirectord.config.errors import ConfigError
from pyldirectord.config.model import Config, Fallback, Real, Virtual
from pyldirectord.core.table_check import check_table


def config(**virtual: object) -> Config:
    real = Real(line=3, host="192.0.2.2", port=80, forward="gate")
    fields: dict[str, object] = {"line": 2, "family": 4, "protocol": "tcp",
                                 "host": "192.0.2.1", "port": 80, "reals": (real,)}
    fields.update(virtual)
    return Config(path="t.cf", virtuals=(Virtual(**fields),))  # type: ignore[arg-type]


def real(**fields: object) -> tuple[Real, ...]:
    return (Real(**{"line": 3, "host": "192.0.2.2", "port": 80, "forward": "gate",
                    **fields}),)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "line", "detail"),
    [
        ({"protocol": "fwm", "host": None, "port": 0, "fwmark": 0}, 2, "fwmark 0"),
        ({"persistent": 2**32}, 2, "persistence timeout"),
        ({"persistent": 60, "netmask": "999.1.1.1"}, 2, "999.1.1.1"),
        ({"schedflags": "nonsense"}, 2, "nonsense"),
        ({"reals": real(weight=2**31)}, 3, "weight 2147483648"),
        ({"reals": real(upper=2**32)}, 3, "u_threshold 4294967296"),
        ({"fallback": Fallback(line=4, host="192.0.2.9", port=2**16)}, 4, "port 65536"),
    ],
)  # fmt: skip
def test_an_entry_the_kernel_cannot_hold_is_an_error_at_its_line(
    fields: dict[str, object], line: int, detail: str
) -> None:
    with pytest.raises(ConfigError) as info:
        check_table(config(**fields))
    assert info.value.line == line
    assert "cannot be held by IPVS" in info.value.message and detail in info.value.message


def test_the_kernels_limits_pass() -> None:
    check_table(config(persistent=4294967, netmask="255.255.0.0",
                       reals=real(weight=2**31 - 1, lower=2**32 - 1, upper=2**32 - 1)))
