"""Preflight's reader on this host's real values, each checked against an independent source
(sysctl, ip route, the shell's ulimit, the kernel's SO_MARK permission check), and the
warning --check-config derives from them."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import subprocess
from pathlib import Path

import pytest

from pyldirectord.cli.main import main
from pyldirectord.runtime.preflight import IPVS_PROC, OnLink, conn_tab_size, read_facts


def sysctl(name: str) -> int | None:
    done = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, check=False)
    return int(done.stdout) if done.returncode == 0 else None


def routes(family: str) -> set[OnLink]:
    """On-link routes of the main table as `ip route` shows them (no `via`, not on lo)."""
    found = set()
    text = subprocess.run(["ip", "-o", family, "route", "show", "table", "main"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    for line in text.splitlines():
        words = line.split()
        if "via" in words or words[0] in ("unreachable", "prohibit", "blackhole"):
            continue
        device = words[words.index("dev") + 1]
        if device == "lo":
            continue
        destination = words[0]
        if destination == "default":
            destination = "0.0.0.0/0" if family == "-4" else "::/0"
        found.add(OnLink(ipaddress.ip_network(destination), device))
    return found


def can_mark() -> bool:
    """SO_MARK needs CAP_NET_ADMIN: the kernel's own verdict on the capability."""
    with socket.socket() as probe:
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, 1)
        except PermissionError as error:
            assert error.errno == errno.EPERM
            return False
    return True


def test_the_reader_sees_what_the_tools_see() -> None:
    facts = read_facts()
    assert facts.ip_forward == sysctl("net.ipv4.ip_forward")
    assert facts.ipv6_forwarding == sysctl("net.ipv6.conf.all.forwarding")
    assert facts.gc_thresh3 == sysctl("net.ipv4.neigh.default.gc_thresh3")
    assert facts.gc_thresh3_v6 == sysctl("net.ipv6.neigh.default.gc_thresh3")
    assert facts.expire_quiescent_template == sysctl("net.ipv4.vs.expire_quiescent_template")
    assert facts.on_link is not None
    assert set(facts.on_link) == routes("-4") | routes("-6")
    assert facts.cap_net_admin is can_mark()
    shell = subprocess.run(["sh", "-c", "ulimit -n"], capture_output=True, text=True,
                           check=True).stdout.strip()  # fmt: skip
    assert str(facts.nofile) == shell or (facts.nofile is None and shell == "unlimited")
    if os.path.exists(IPVS_PROC):
        assert facts.conn_tab_size == conn_tab_size(Path(IPVS_PROC).read_text())
    else:
        assert facts.conn_tab_size is None
    print(f"host facts: {facts}")


def test_check_config_warns_from_the_real_forwarding_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "masq.cf"
    path.write_text("virtual=127.0.0.1:80\n\treal=127.0.0.2:80 masq\n\tchecktype=connect\n")
    assert main(["--check-config", str(path)]) == 0
    warned = "masq forwarding needs routing, but net.ipv4.ip_forward is 0" in \
        capsys.readouterr().err  # fmt: skip
    assert warned == (sysctl("net.ipv4.ip_forward") == 0)
