"""Shared fixtures. Kernel tests run only inside the User-Mode Linux sandbox (tools/uml-run)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyldirectord.runtime.loops import chosen_loop, loop_factory
from sandbox import topology

# Seconds each kernel test module took in the sandbox (build/kernel-junit-*.xml of a local run;
# CI's loaded machine is slower, in about the same proportions): the weights that split the
# suite between sandboxes run side by side (tools/kernel-suite). A module missing here weighs
# DEFAULT_WEIGHT; a wrong weight only unbalances the shards, it never drops a test.
MODULE_WEIGHTS = {
    "test_ipvs_differential.py": 227, "test_e2e_scenarios.py": 115, "test_e2e_faults.py": 65,
    "test_director_scenarios.py": 64, "test_ocf_agent.py": 59, "test_cluster_agents.py": 50,
    "test_observability_daemon.py": 39, "test_operator_habits.py": 31,
    "test_reload_kept_kernel.py": 22, "test_plan_kernel.py": 18, "test_ipvs.py": 17,
    "test_bench_smoke.py": 17, "test_graceful_drain.py": 17, "test_fd_limit_daemon.py": 15,
    "test_daemon_e2e.py": 14, "test_sandbox.py": 10, "test_probe_lab.py": 10,
    "test_ipvs_scale.py": 7, "test_config_limits_kernel.py": 3,
}  # fmt: skip
DEFAULT_WEIGHT = 20


def shard_of(modules: list[str], count: int) -> dict[str, int]:
    """Module name -> shard (0-based): heaviest first, each to the lightest shard so far."""
    loads = [0] * count
    shards: dict[str, int] = {}
    for name in sorted(modules, key=lambda m: (-MODULE_WEIGHTS.get(m, DEFAULT_WEIGHT), m)):
        shards[name] = loads.index(min(loads))
        loads[shards[name]] += MODULE_WEIGHTS.get(name, DEFAULT_WEIGHT)
    return shards


def keep_shard(config: pytest.Config, items: list[pytest.Item], shard: str) -> None:
    """KERNEL_SHARD=I/N keeps the tests of the modules assigned to shard I of N."""
    index, count = (int(part) for part in shard.split("/"))
    shards = shard_of(sorted({item.path.name for item in items}), count)
    kept = [item for item in items if shards[item.path.name] == index - 1]
    others = [item for item in items if shards[item.path.name] != index - 1]
    config.hook.pytest_deselected(items=others)
    items[:] = kept


# Last: after `-m kernel` has deselected the host tests, so that only kernel modules are split.
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The kernel suite is selected with `-m kernel` by `make test-kernel`; outside the sandbox
    # it is deselected by `-m 'not kernel'`. Running it on a host without IPVS is a usage error.
    if os.environ.get("UML_SANDBOX") == "1":
        if shard := os.environ.get("KERNEL_SHARD"):
            keep_shard(config, items, shard)
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


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Async tests run on the loop the daemon would choose (uvloop where installed), or on
    the one PYLDIRECTORD_LOOP names: `make test` runs the check and director tests on both."""
    name = chosen_loop()
    return {name: loop_factory(name)}
