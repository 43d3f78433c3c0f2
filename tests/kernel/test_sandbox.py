"""The sandbox kernel really has IPVS: ipvsadm and pyroute2 see the same table."""

from __future__ import annotations

import socket
import subprocess
from collections import Counter

import pytest
from pyroute2 import IPVS, IPVSService

from sandbox import topology

pytestmark = pytest.mark.kernel


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


@pytest.mark.parametrize(("vip", "family"), [(topology.VIP, 4), (f"[{topology.VIP6}]", 6)])
def test_lab_balances_client_traffic_over_the_reals_with_masq(
    lab: topology.Lab, clean_table: None, vip: str, family: int
) -> None:
    subprocess.run(["ipvsadm", "-A", "-t", f"{vip}:80", "-s", "rr"], check=True)
    for real in lab.reals:
        address = real.address if family == 4 else f"[{real.address6}]"
        subprocess.run(
            ["ipvsadm", "-a", "-t", f"{vip}:80", "-r", f"{address}:80", "-m"], check=True
        )
    answers = Counter(topology.client_get(f"http://{vip}/") for _ in range(9))
    print(f"IPv{family} answers through the VIP: {dict(answers)}")
    assert answers == {real.name: 3 for real in lab.reals}
