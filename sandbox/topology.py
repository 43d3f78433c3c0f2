"""Builds the LVS-NAT lab inside the sandbox kernel with iproute2.

    client netns  --veth--  director (root netns)  --bridge lvsbr--  real1..realN netns
    198.51.100.2            198.51.100.1                             203.0.113.11..
    2001:db8:c::2           VIP 198.51.100.80 / 2001:db8:80::80      2001:db8:1::11..
                            on dummy lvs0

All addresses are documentation ranges that exist only inside namespaces made here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

VIP = "198.51.100.80"
VIP6 = "2001:db8:80::80"
CLIENT = "198.51.100.2"
CLIENT6 = "2001:db8:c::2"
REAL_NET = "203.0.113"
REAL_NET6 = "2001:db8:1"
BRIDGE = "lvsbr"


@dataclass
class Real:
    name: str
    address: str
    address6: str
    mode_file: Path
    server: subprocess.Popen[bytes] | None = None

    def set_mode(self, mode: str) -> None:
        self.mode_file.write_text(mode + "\n")

    def served(self) -> int:
        """HTTP requests its server answered since it started (see sandbox/realserver.py)."""
        try:
            return int(self.mode_file.with_suffix(".served").read_text())
        except (OSError, ValueError):
            return 0


@dataclass
class Lab:
    state_dir: Path
    reals: list[Real] = field(default_factory=list)


def run(*argv: str, netns: str | None = None, check: bool = True,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``argv`` in ``netns`` (the director's, the root netns, when None), output captured;
    with ``check``, a failure raises with the command's own error text."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    done = subprocess.run([*prefix, *argv], capture_output=True, text=True, input=stdin,
                          check=False)  # fmt: skip
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} (netns {netns}): exit {done.returncode}: "
                           f"{done.stderr.strip()}")  # fmt: skip
    return done


def ip(*args: str, netns: str | None = None) -> None:
    run("ip", *args, netns=netns)


def sysctl(setting: str, netns: str | None = None) -> None:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    subprocess.run([*prefix, "sysctl", "-qw", setting], check=True)


def _host_netns(name: str, peer: str, address: str, address6: str, gateway: str,
                gateway6: str) -> None:
    ip("netns", "add", name)
    ip("link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", name)
    sysctl("net.ipv6.conf.all.accept_dad=0", name)
    ip("link", "set", "lo", "up", netns=name)
    ip("addr", "add", address, "dev", "eth0", netns=name)
    ip("addr", "add", address6, "dev", "eth0", "nodad", netns=name)
    ip("link", "set", "eth0", "up", netns=name)
    ip("route", "add", "default", "via", gateway, netns=name)
    ip("-6", "route", "add", "default", "via", gateway6, netns=name)


def build(state_dir: Path, reals: int = 3) -> Lab:
    """The director's side in the root netns, one client netns and ``reals`` server netns."""
    lab = Lab(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    sysctl("net.ipv4.ip_forward=1")
    sysctl("net.ipv6.conf.all.forwarding=1")
    sysctl("net.ipv6.conf.all.accept_dad=0")
    sysctl("net.ipv6.conf.default.accept_dad=0")
    ip("link", "add", "lvs0", "type", "dummy")
    ip("addr", "add", f"{VIP}/32", "dev", "lvs0")
    ip("addr", "add", f"{VIP6}/128", "dev", "lvs0", "nodad")
    ip("link", "set", "lvs0", "up")
    _host_netns("client", "c0", f"{CLIENT}/24", f"{CLIENT6}/64", "198.51.100.1",
                "2001:db8:c::1")
    ip("addr", "add", "198.51.100.1/24", "dev", "c0")
    ip("addr", "add", "2001:db8:c::1/64", "dev", "c0", "nodad")
    ip("link", "set", "c0", "up")
    ip("link", "add", BRIDGE, "type", "bridge")
    ip("addr", "add", f"{REAL_NET}.1/24", "dev", BRIDGE)
    ip("addr", "add", f"{REAL_NET6}::1/64", "dev", BRIDGE, "nodad")
    ip("link", "set", BRIDGE, "up")
    # The director is also the client's router here, so LVS-DR/TUN replies (source: the VIP,
    # a local address of this host) come back through it; a real network's router would not
    # own the VIP. Without this the kernel drops them as martians.
    for scope in ("all", BRIDGE):
        sysctl(f"net.ipv4.conf.{scope}.accept_local=1")
    for index in range(1, reals + 1):
        lab.reals.append(add_real(lab, index))
    return lab


def add_real(lab: Lab, index: int) -> Real:
    name = f"real{index}"
    address, address6 = f"{REAL_NET}.{10 + index}", f"{REAL_NET6}::{10 + index}"
    _host_netns(name, f"v{name}", f"{address}/24", f"{address6}/64", f"{REAL_NET}.1",
                f"{REAL_NET6}::1")
    ip("link", "set", f"v{name}", "master", BRIDGE)
    ip("link", "set", f"v{name}", "up")
    return Real(name, address, address6, lab.state_dir / f"{name}.mode")


def start_server(real: Real, port: int = 80) -> None:
    """Starts the real's HTTP server in its netns and waits until it answers locally."""
    real.set_mode("ok")
    command = ["ip", "netns", "exec", real.name, sys.executable, "-m", "sandbox.realserver",
               real.name, str(port), str(real.mode_file)]
    real.server = subprocess.Popen(command, cwd=Path(__file__).parent.parent,
                                   start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if client_get(f"http://{real.address}:{port}/", netns=real.name, timeout=1) == real.name:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{real.name}: HTTP server did not come up")


def stop_server(real: Real) -> None:
    if real.server is not None and real.server.poll() is None:
        os.killpg(real.server.pid, signal.SIGKILL)
        real.server.wait(timeout=10)
    real.server = None


def client_get(url: str, netns: str = "client", timeout: float = 2,
               source: str | None = None) -> str | None:
    """One HTTP GET from a namespace with curl (from address ``source`` when given); the
    body's first line, or None on failure."""
    bind = ["--interface", source] if source else []
    done = subprocess.run(
        ["ip", "netns", "exec", netns, "curl", "-sS", "-g", "--max-time", str(timeout),
         "--fail", *bind, url],
        capture_output=True, text=True, check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


# Each datagram from its own socket (its own source port: a new IPVS connection), and every
# answer, or "-" for none, on its own line.
_UDP_CLIENT = """
import socket, sys
host, port, count, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
for _ in range(count):
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(b"who?", (host, port))
        try:
            print(sock.recv(512).decode().strip(), flush=True)
        except OSError:
            print("-", flush=True)
"""


def client_udp(host: str, port: int, count: int, netns: str = "client",
               timeout: float = 1) -> list[str | None]:
    """``count`` UDP questions to ``host:port`` from a namespace, each from a new source
    port; the answers (the real's name), None where none came back within ``timeout``."""
    done = run(sys.executable, "-c", _UDP_CLIENT, host, str(port), str(count), str(timeout),
               netns=netns)
    return [None if line == "-" else line for line in done.stdout.splitlines()]


def accept_vip(real: Real, device: str) -> None:
    """Makes ``real`` answer for the VIP itself, as LVS-DR (``lo``) and LVS-TUN (``tunl0``)
    need, without ever answering ARP for it (the director owns the VIP on the link)."""
    for setting in ("arp_ignore=1", "arp_announce=2"):
        for scope in ("all", "eth0"):
            sysctl(f"net.ipv4.conf.{scope}.{setting}", real.name)
    if device == "tunl0":
        # decapsulated packets come in on tunl0, whose return route is eth0
        for scope in ("all", "tunl0"):
            sysctl(f"net.ipv4.conf.{scope}.rp_filter=0", real.name)
        ip("link", "set", "tunl0", "up", netns=real.name)
    ip("addr", "replace", f"{VIP}/32", "dev", device, netns=real.name)


def refuse_vip(real: Real, device: str) -> None:
    """Undoes `accept_vip`."""
    run("ip", "addr", "del", f"{VIP}/32", "dev", device, netns=real.name, check=False)
    if device == "tunl0":
        ip("link", "set", "tunl0", "down", netns=real.name)


def teardown(lab: Lab) -> None:
    for real in lab.reals:
        stop_server(real)
    for name in ["client", *(real.name for real in lab.reals)]:
        subprocess.run(["ip", "netns", "del", name], check=False)
    for link in ("lvs0", BRIDGE, "c0"):
        subprocess.run(["ip", "link", "del", link], check=False, capture_output=True)
