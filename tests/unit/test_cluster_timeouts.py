"""The cluster managers' timeouts in contrib/ outlast what `start` and `stop` may wait.

`start` waits for the daemon's report (lifecycle.READY_TIMEOUT, loading ip_vs included) and
`stop` for the daemon to be gone (lifecycle.STOP_TIMEOUT). A manager whose op times out first
declares a start or stop failed that was still going fine, and fences or restarts over it.
The values are read from the snippets an operator copies, not restated here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pyldirectord.cli import lifecycle
from pyldirectord.kernel import kmod

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"
# Room beyond the wait itself: the CLI's own start-up, and the daemon's exit after its report.
MARGIN = 10.0
UNITS = sorted((CONTRIB / "systemd").glob("*.service"))


def pacemaker_ops(op: str) -> list[float]:
    """Every ``op <op> timeout=Ns`` of the crm and pcs snippets (the README's code blocks)."""
    text = (CONTRIB / "pacemaker" / "README.md").read_text()
    snippets = "".join(re.findall(r"^```\n(.*?)^```$", text, re.MULTILINE | re.DOTALL))
    return [float(t) for t in re.findall(rf"\bop {op} timeout=(\d+)s\b", snippets)]


def systemd_setting(unit: Path, name: str) -> float | None:
    match = re.search(rf"^{name}=(\d+)$", unit.read_text(), re.MULTILINE)
    return None if match is None else float(match.group(1))


def test_the_pacemaker_snippets_outlast_start_and_stop() -> None:
    starts, stops = pacemaker_ops("start"), pacemaker_ops("stop")
    assert len(starts) == len(stops) == 2  # crm and pcs, each setting both explicitly
    assert min(starts) >= lifecycle.READY_TIMEOUT + MARGIN
    assert min(stops) >= lifecycle.STOP_TIMEOUT + MARGIN


@pytest.mark.parametrize("unit", UNITS, ids=[unit.name for unit in UNITS])
def test_the_systemd_units_outlast_start_and_stop(unit: Path) -> None:
    start = systemd_setting(unit, "TimeoutStartSec")
    stop = systemd_setting(unit, "TimeoutStopSec")
    assert start is not None and start >= lifecycle.READY_TIMEOUT + MARGIN
    assert stop is not None and stop >= lifecycle.STOP_TIMEOUT + MARGIN


def test_loading_ip_vs_fits_in_the_wait_for_start() -> None:
    # ip_vs, then every scheduler at once: two modprobe calls at most before the report.
    assert 2 * kmod.MODPROBE_TIMEOUT < lifecycle.READY_TIMEOUT


def test_the_cli_uses_these_waits_by_default() -> None:
    environment = lifecycle.Environment(rundir="", argv0="", binary="", self_command=(),
                                        out=None, err=None, usage_text="",  # type: ignore[arg-type]
                                        version_text="")  # fmt: skip
    assert (environment.ready_timeout, environment.stop_timeout) == (
        lifecycle.READY_TIMEOUT, lifecycle.STOP_TIMEOUT)  # fmt: skip
