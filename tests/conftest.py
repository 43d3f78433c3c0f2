"""Shared fixtures. Kernel tests run only inside the User-Mode Linux sandbox (tools/uml-run)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The lab (sandbox/) is not installed: reach it from the repository root. Appended, not
# prepended, so that `pyldirectord` still resolves to the installed package (checks/ lives
# inside it only there).
sys.path.append(str(Path(__file__).resolve().parent.parent))

from sandbox import topology


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The kernel suite is selected with `-m kernel` by `make test-kernel`; outside the sandbox
    # it is deselected by `-m 'not kernel'`. Running it on a host without IPVS is a usage error.
    if os.environ.get("UML_SANDBOX") == "1":
        return
    for item in items:
        if "kernel" in item.keywords and config.getoption("-m") == "kernel":
            raise pytest.UsageError("kernel tests run inside the sandbox: use `make test-kernel`")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # The end-to-end scenarios each print one `e2e <scenario>: ...` line (detection times,
    # who answered the client): gather them at the end so that even a passing, captured run's
    # log shows what was measured.
    lines = [line for outcome in ("passed", "failed")
             for report in terminalreporter.stats.get(outcome, [])
             if getattr(report, "when", None) == "call"
             for line in report.capstdout.splitlines() if line.startswith("e2e")]  # fmt: skip
    if lines:
        terminalreporter.write_sep("-", "end-to-end measurements")
        for line in lines:
            terminalreporter.write_line(line)


# --- kernel suite: a clean IPVS table and the LVS lab (one conftest for the whole tree keeps
# module names unique for mypy) ---


@pytest.fixture
def clean_table() -> Iterator[None]:
    subprocess.run(["ipvsadm", "-C"], check=True)
    yield
    subprocess.run(["ipvsadm", "-C"], check=True)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[topology.Lab]:
    built = topology.build(Path(tmp_path_factory.mktemp("lab")))
    try:
        for real in built.reals:
            topology.start_server(real)
        yield built
    finally:
        topology.teardown(built)
