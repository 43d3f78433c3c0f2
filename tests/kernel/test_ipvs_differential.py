"""The differential in the kernel: on each config, the Perl ldirectord and pyldirectord leave
the same IPVS table (as ipvsadm lists it: services, schedulers, persistence, reals, forwarding,
weights, thresholds).

Each config of ``sample-configs/`` and ``tests/kernel/ipvs_corpus/`` runs twice, rewritten
with every virtual at ``checktype=on`` (every real up at the first pass) and at
``checktype=off`` (never checked: the start-up end state), everything else as written. The
reference runs first; its table is read; the table is flushed; pyldirectord runs on the same
file. No check sends anything anywhere (on/off do no I/O). A case where we deliberately
differ (a reference bug, spec section 8) is listed in its config as
``# differential: exclude MODE: REASON`` and documented in docs/compatibility-ipvs.md;
``DIFFERENTIAL_ALL=1`` runs those too, to see the difference still stands. A config's
``# differential: before: ipvsadm ARGS`` lines build the table both runs start from.

The reference spawns five processes per table change (ipvsadm through a shell, twice to read,
once to write), a tenth of a second each in the sandbox: the configs stay small, and this
suite takes about two minutes on an idle machine, most of it the reference.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from differential_runner import (
    LOG_NAME,
    ipvsadm_lines,
    ours_table,
    reference_table,
    rewritten,
)

pytestmark = pytest.mark.kernel
REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "sample-configs").glob("*.cf")) + sorted(
    (REPO / "tests" / "kernel" / "ipvs_corpus").glob("*.cf")
)
EXCLUDE = re.compile(r"^# differential: exclude (on|off): (.*)$", re.M)
BEFORE = re.compile(r"^# differential: before: ipvsadm (.*)$", re.M)
MODES = ("on", "off")


def exclusions(path: Path) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in EXCLUDE.finditer(path.read_text())}


@pytest.fixture(scope="module", autouse=True)
def flushed_after() -> Iterator[None]:
    yield
    flush()


def flush() -> None:
    subprocess.run(["ipvsadm", "-C"], check=True)


def prepare(commands: list[str]) -> None:
    """The table each run starts from: empty, or what the config's ``before:`` lines make
    (a restart over a live table, another tool's service)."""
    flush()
    for command in commands:
        subprocess.run(["ipvsadm", *command.split()], check=True)


# DIFFERENTIAL_ALL=1 runs the excluded cases too: they must still fail, as documented.
EVERY_CASE = os.environ.get("DIFFERENTIAL_ALL") == "1"
CASES = [
    pytest.param(path, mode, id=f"{path.stem}-{mode}")
    for path in CONFIGS for mode in MODES if EVERY_CASE or mode not in exclusions(path)
]  # fmt: skip


@pytest.mark.parametrize(("source", "mode"), CASES)
def test_same_table_as_the_reference(source: Path, mode: str, tmp_path: Path) -> None:
    config = tmp_path / source.name
    config.write_text(rewritten(source.read_text(), mode, tmp_path / LOG_NAME))
    before = BEFORE.findall(source.read_text())
    # Flushed before each run, not after: each ipvsadm costs a tenth of a second here.
    prepare(before)
    theirs, their_time = reference_table(config, tmp_path)
    prepare(before)
    ours, our_time = ours_table(config, tmp_path)
    print(f"\n{source.name} checktype={mode}: reference {their_time:.1f}s, "
          f"pyldirectord {our_time:.1f}s, {len(ipvsadm_lines(ours))} table lines")  # fmt: skip
    if ours != theirs:
        diff = difflib.unified_diff(ipvsadm_lines(theirs), ipvsadm_lines(ours), "reference",
                                    "pyldirectord", lineterm="")  # fmt: skip
        pytest.fail("tables differ:\n" + "\n".join(diff))


def test_the_corpus_covers_both_modes_and_every_exclusion_is_documented() -> None:
    documented = (REPO / "docs" / "compatibility-ipvs.md").read_text()
    assert len(CONFIGS) >= 5
    for path in CONFIGS:
        for mode, reason in exclusions(path).items():
            assert len(reason) > 40, f"{path.name}: say why {mode} is excluded"
            assert path.name in documented, f"{path.name}: document the exclusion"
