"""The sandbox kernel really has IPVS: ipvsadm and pyroute2 see the same table."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest
from pyroute2 import IPVS, IPVSService

pytestmark = pytest.mark.kernel


@pytest.fixture
def clean_table() -> Iterator[None]:
    subprocess.run(["ipvsadm", "-C"], check=True)
    yield
    subprocess.run(["ipvsadm", "-C"], check=True)


def test_ipvs_module_is_loaded() -> None:
    with open("/proc/net/ip_vs") as table:
        assert table.readline().startswith("IP Virtual Server version")


def test_service_added_by_ipvsadm_is_dumped_over_netlink(clean_table: None) -> None:
    subprocess.run(["ipvsadm", "-A", "-t", "10.99.0.1:80", "-s", "rr"], check=True)
    with IPVS() as ipvs:
        services = [IPVSService.from_message(m) for m in ipvs.service("dump")]
    assert [(s["addr"], s["port"], s["protocol"], s["sched_name"]) for s in services] == [
        ("10.99.0.1", 80, socket.IPPROTO_TCP, "rr")
    ]
