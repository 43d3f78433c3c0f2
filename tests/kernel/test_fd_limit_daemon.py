"""The daemon under a low open-files limit, in the sandbox kernel: 300 live reals (bench's
farm, one netns) checked by HTTP under `ulimit -n 256` (soft and hard, so nothing can raise
it) all come up and none is ever quiesced for "Too many open files": the daemon caps its
checks in flight by the limit and says so once in its log."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ipvsadm_text import live_weights

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import farm

pytestmark = pytest.mark.kernel
BINARY = str(Path(sys.executable).with_name("pyldirectord"))
REALS = 300
DEADLINE = 60.0
VIP = "10.62.0.1"


@pytest.fixture
def server(tmp_path: Path, clean_table: None) -> Iterator[farm.Server]:
    farm.build()
    farm.set_reals(REALS)
    served = farm.Server(tmp_path)
    yield served
    served.stop()
    farm.teardown()


def run(config: Path, action: str, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    prefix = f"ulimit -n {limit} && " if limit else ""
    return subprocess.run(["/bin/sh", "-c", f'{prefix}exec "$0" "$1" "$2"', BINARY,
                           str(config), action],
                          capture_output=True, text=True, timeout=90, check=False)  # fmt: skip


def test_300_reals_under_ulimit_256_all_up_none_quiesced(
    server: farm.Server, tmp_path: Path
) -> None:
    log = tmp_path / "ldirectord.log"
    reals = "".join(f"    real={address}:80 masq\n" for address in farm.addresses(REALS))
    config = tmp_path / "many.cf"
    config.write_text(
        f'checkinterval=2\nnegotiatetimeout=5\nquiescent=yes\nlogfile="{log}"\n'
        f'virtual={VIP}:80\n{reals}    service=http\n    receive="alive"\n    scheduler=rr\n'
    )
    started = run(config, "start", limit=256)
    assert started.returncode == 0, started.stderr
    try:
        began = time.monotonic()
        while sum(w > 0 for w in live_weights().values()) < REALS:
            assert time.monotonic() - began < DEADLINE, f"not all up: {live_weights()}"
            time.sleep(0.2)
        print(f"all {REALS} reals up after {time.monotonic() - began:.1f}s")
        # Before this, reals the first round had not reached yet sat at weight 0 (the
        # reference's start state with quiescent=yes); from here on none may drop.
        all_up_at = len(log.read_text())
        # A few more rounds (2 s interval): a check that ran out of descriptors would
        # quiesce its real; the farm counts that the checks really went on.
        before = server.connections()
        while server.connections() < before + 3 * REALS:
            assert time.monotonic() - began < 2 * DEADLINE, "checks stopped"
            assert all(w > 0 for w in live_weights().values()), live_weights()
            time.sleep(0.2)
    finally:
        stopped = run(config, "stop")
    text = log.read_text()
    print(*(line for line in text.splitlines() if "real server" not in line), sep="\n")
    assert stopped.returncode == 0, stopped.stderr
    assert "Too many open files" not in text
    assert "Quiescent real server" not in text[all_up_at:]
    assert "Open files limit 256 allows 48 checks at once" in text
