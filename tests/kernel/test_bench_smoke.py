"""A tiny run of `make bench`'s machinery in the sandbox: 20 reals, pyldirectord, connect.

It proves the farm, the table polling, the process-tree accounting and the fault injection
measure something real; the figures themselves belong to `make bench`, not to assertions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import director_bench

pytestmark = pytest.mark.kernel


def test_a_tiny_bench_run_measures_every_phase(tmp_path: Path, clean_table: None) -> None:
    args = director_bench.parse_args([
        "--reals", "20", "--directors", "pyldirectord", "--checks", "connect",
        "--window", "4", "--converge-timeout", "60", "--json", str(tmp_path / "r.json"),
    ])  # fmt: skip
    assert isinstance(args, argparse.Namespace)
    [result] = director_bench.run_all(args, tmp_path)
    print(director_bench.describe(result))
    assert result.converge is not None and result.detect is not None
    assert result.recover is not None
    assert result.cpu_per_min is not None and result.cpu_per_min > 0
    # 20 reals every 2 s for 4 s: the farm must have counted the director's checks.
    assert result.checks_per_s is not None and result.checks_per_s > 5
    assert result.peak_rss_mb is not None and result.peak_rss_mb > 10
    assert result.false_downs == 0
