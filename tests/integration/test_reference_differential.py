"""The Perl ldirectord and pyldirectord agree on every corpus config.

Two comparisons on one run of the reference per config: ``pyldirectord --check-config``
gives the reference's verdict, line and message; ``pyldirectord CONFIG status`` prints what
``ldirectord CONFIG status`` prints, with the same exit code.

The reference is Debian's /usr/sbin/ldirectord (``make apt`` installs it); a machine without
it fails these tests rather than skipping them. Configs marked ``# reference: skip``
(extensions, deliberate differences) are left out, each with its stated reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from reference_runner import (
    REFERENCE,
    Verdict,
    corpus,
    expected,
    our_status,
    reference_status,
    skip_reason,
    verdict_of_status,
    verdicts,
    without_pids,
)

from pyldirectord.config.errors import reference_warning_text
from pyldirectord.config.resolve import load

pytestmark = pytest.mark.reference

Status = tuple[int, str, str]


class Runs:
    def __init__(self, paths: list[Path]) -> None:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=2) as side:
            ours_later = side.submit(verdicts, paths, reference=False)
            status_later = side.submit(our_status, paths)
            with ThreadPoolExecutor(max_workers=4) as pool:
                results = list(pool.map(reference_status, paths))
            self.ours: dict[Path, Verdict] = ours_later.result()
            self.our_status: dict[Path, Status] = status_later.result()
        self.reference: dict[Path, subprocess.CompletedProcess[str]] = dict(
            zip(paths, results, strict=True))  # fmt: skip
        self.paths = paths
        print(f"differential: {len(paths)} configs in {time.monotonic() - started:.1f}s")


@pytest.fixture(scope="module")
def runs() -> Runs:
    assert os.access(REFERENCE, os.X_OK), "install the reference with `make apt`"
    return Runs([path for path in corpus() if skip_reason(path) is None])


def test_reference_and_tools_are_installed() -> None:
    assert os.access(REFERENCE, os.X_OK), "install the reference with `make apt`"
    assert shutil.which("ipvsadm") or os.access("/sbin/ipvsadm", os.X_OK)
    assert shutil.which("unshare"), "util-linux unshare isolates the reference"


def test_check_config_gives_the_reference_verdict(runs: Runs) -> None:
    assert len(runs.paths) >= 40
    theirs = {path: verdict_of_status(path, runs.reference[path]) for path in runs.paths}
    disagreements = [
        f"{path.name}: reference {theirs[path]} / pyldirectord {runs.ours[path]}"
        for path in runs.paths if theirs[path] != runs.ours[path]
    ]  # fmt: skip
    assert not disagreements, "\n".join(disagreements)
    stale = [path.name for path in runs.paths if expected(path) != theirs[path]]
    assert not stale, f"recorded expectations differ from the reference: {stale}"


# Lines only the Perl interpreter prints (its own warnings, Sys::Syslog without /dev/log).
PERL_NOISE = re.compile(r"^(Use of uninitialized value .*|setlogsock\(\): .*)\n", re.M)
CONFIG_WARNING = re.compile(r"^Warning \[PID\].*\n", re.M)
TIME = re.compile(r"^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] ", re.M)
ARGV0 = re.compile(r"invoked as: \S+ ")
# Syslog is not reachable in the test's network namespace (no /dev/log): the reference's
# Sys::Syslog then drops its lines, pyldirectord's log module falls back to stderr.
SYSLOG_CONFIGS = re.compile(r'^logfile\s*=\s*"[^/]', re.M)


def comparable(text: str) -> str:
    text = CONFIG_WARNING.sub("", PERL_NOISE.sub("", without_pids(text)))
    return ARGV0.sub("invoked as: ARGV0 ", TIME.sub("[TIME] ", text))


def test_status_action_matches_the_reference(runs: Runs) -> None:
    """``pyldirectord CONFIG status`` = ``ldirectord CONFIG status``: exit code, stdout and
    stderr (pids, times, argv[0] and config warnings aside, see the next test)."""
    different = []
    compared = 0
    for path in runs.paths:
        if SYSLOG_CONFIGS.search(path.read_bytes().decode("utf-8", "surrogateescape")):
            continue
        result, mine = runs.reference[path], runs.our_status[path]
        theirs = (result.returncode, comparable(result.stdout), comparable(result.stderr))
        if theirs != (mine[0], comparable(mine[1]), comparable(mine[2])):
            different.append(f"{path.name}:\n  reference {theirs!r}\n  pyldirectord {mine!r}")
        compared += 1
    assert not different, "\n".join(different)
    assert compared >= 40


def test_config_warnings_match_the_reference(runs: Runs) -> None:
    """The reference's ``Warning [pid] ...`` lines are exactly the parsed config's warnings
    (``reference_warning_text``), in the same order."""
    checked = 0
    for path in runs.paths:
        result = runs.reference[path]
        if result.returncode != 3:
            continue
        config = load(str(path), file_check=lambda _path: None)
        ours = "".join(reference_warning_text(w, 0) for w in config.warnings)
        theirs = CONFIG_WARNING.findall(without_pids(result.stderr))
        assert theirs == CONFIG_WARNING.findall(without_pids(ours)), path.name
        checked += len(theirs)
    assert checked >= 5


def test_left_out_configs_state_why() -> None:
    left_out = {path.name: skip_reason(path) for path in corpus() if skip_reason(path)}
    assert all(reason and len(reason) > 20 for reason in left_out.values())
