"""Kernel-suite fixtures: a clean IPVS table and the LVS lab (built once per session)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import topology


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
