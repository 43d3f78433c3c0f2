"""The Perl ldirectord and pyldirectord agree on every corpus config: verdict, line, message.

The reference is Debian's /usr/sbin/ldirectord (``make apt`` installs it); a machine without
it fails this test rather than skipping it. Configs marked ``# reference: skip`` (extensions,
deliberate differences) are left out, each with its stated reason.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from reference_runner import REFERENCE, corpus, expected, skip_reason, verdicts

pytestmark = pytest.mark.reference


def test_reference_and_tools_are_installed() -> None:
    assert os.access(REFERENCE, os.X_OK), "install the reference with `make apt`"
    assert shutil.which("ipvsadm") or os.access("/sbin/ipvsadm", os.X_OK)
    assert shutil.which("unshare"), "util-linux unshare isolates the reference"


def test_reference_and_pyldirectord_agree_on_the_corpus() -> None:
    assert os.access(REFERENCE, os.X_OK), "install the reference with `make apt`"
    paths = [path for path in corpus() if skip_reason(path) is None]
    assert len(paths) >= 40
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as pool:
        ours_later = pool.submit(verdicts, paths, reference=False)
        theirs = verdicts(paths, reference=True)
        ours = ours_later.result()
    print(f"differential: {len(paths)} configs in {time.monotonic() - started:.1f}s")
    disagreements = [
        f"{path.name}: reference {theirs[path]} / pyldirectord {ours[path]}"
        for path in paths if theirs[path] != ours[path]
    ]  # fmt: skip
    assert not disagreements, "\n".join(disagreements)
    stale = [path.name for path in paths if expected(path) != theirs[path]]
    assert not stale, f"recorded expectations differ from the reference: {stale}"


def test_left_out_configs_state_why() -> None:
    left_out = {path.name: skip_reason(path) for path in corpus() if skip_reason(path)}
    assert all(reason and len(reason) > 20 for reason in left_out.values())
