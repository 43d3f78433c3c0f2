"""End-to-end scenarios that each need their own daemon and config (issue 6): flapping,
forwarding methods (DR, TUN), fwmark, IPv6, UDP, persistence with quiescent, and a rolling
restart under load. Each prints one `e2e <scenario>: ...` line saying what it saw."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e_director import Director, active_connections, answers, wait_until
from ipvsadm_text import ipvsadm, live_weights

from sandbox import faults, topology

pytestmark = pytest.mark.kernel
HTTP_CHECK = '    service=http\n    request="/"\n    receive="real"\n    scheduler=rr\n'
StartDirector = Callable[..., Director]


def reals_text(lab: topology.Lab, forwarding: str = "masq", six: bool = False) -> str:
    if six:
        return "".join(f"    real6=[{r.address6}]:80 {forwarding} 1\n" for r in lab.reals)
    return "".join(f"    real={r.address}:80 {forwarding} 1\n" for r in lab.reals)


def live(lab: topology.Lab, six: bool = False) -> dict[str, int]:
    return {(f"[{r.address6}]:80" if six else f"{r.address}:80"): 1 for r in lab.reals}


def names(lab: topology.Lab) -> set[str | None]:
    return {r.name for r in lab.reals}


@pytest.fixture
def start_director(lab: topology.Lab, tmp_path: Path) -> Iterator[StartDirector]:
    """Starts a daemon on a config body; stops it, clears the table and the reals' modes after
    (a test undoes its own other faults: undoing them all costs seconds in the sandbox)."""
    started: list[Director] = []

    def start(body: str, globals_: str = "") -> Director:
        daemon = Director(tmp_path, body, globals_)
        started.append(daemon)
        daemon.start()
        return daemon

    subprocess.run(["ipvsadm", "-C"], check=True)
    try:
        yield start
    finally:
        for daemon in started:
            daemon.stop()
        subprocess.run(["ipvsadm", "-C"], check=True)
        for real in lab.reals:
            faults.KILLED.clear(real)  # a killed server restarted
            real.set_mode("ok")


def test_flapping_real_never_transitions(lab: topology.Lab,
                                         start_director: StartDirector) -> None:  # fmt: skip
    """The real fails every second health request; failurecount=3 never sees 3 in a row."""
    flapper = lab.reals[0]
    key = f"{flapper.address}:80"
    director = start_director(f"virtual={topology.VIP}:80\n{reals_text(lab)}{HTTP_CHECK}"
                              "    failurecount=3\n")  # fmt: skip
    wait_until("all reals weighted", lambda: live_weights() == live(lab))
    before, first = director.transitions(key), flapper.served()
    flapper.set_mode("flap")
    checked = wait_until("20 health checks of the flapping real",
                         lambda: flapper.served() - first >= 20, deadline=40)  # fmt: skip
    changes = director.transitions(key)[len(before):]
    print(f"e2e flapping: {flapper.served() - first} checks in {checked:.1f} s, every second "
          f"one HTTP 503, failurecount=3: {len(changes)} transitions {changes}")  # fmt: skip
    assert changes == []
    assert live_weights()[key] == 1


@pytest.mark.parametrize(("forwarding", "device"), [("gate", "lo"), ("ipip", "tunl0")])
def test_direct_routing_and_tunnel(lab: topology.Lab, start_director: StartDirector,
                                   forwarding: str, device: str) -> None:  # fmt: skip
    """The reals answer the client directly from the VIP they hold on lo / tunl0."""
    try:
        for real in lab.reals:
            topology.accept_vip(real, device)
        start_director(f"virtual={topology.VIP}:80\n{reals_text(lab, forwarding)}{HTTP_CHECK}")
        converged = wait_until("all reals weighted", lambda: live_weights() == live(lab))
        spread = answers(6)
        victim = lab.reals[2]
        topology.stop_server(victim)
        detected = wait_until(f"{victim.name} quiesced",
                              lambda: live_weights()[f"{victim.address}:80"] == 0)  # fmt: skip
        after = answers(4)
    finally:
        for real in lab.reals:
            topology.refuse_vip(real, device)
    print(f"e2e forwarding {forwarding}: converged in {converged:.2f} s, answers {dict(spread)}; "
          f"{victim.name} killed, detected in {detected:.2f} s, then answers {dict(after)}")
    assert set(spread) == names(lab)
    assert set(after) == names(lab) - {victim.name}


def test_fwmark_service(lab: topology.Lab, start_director: StartDirector) -> None:
    """`virtual=1`: the director marks the VIP's packets in iptables' mangle table."""
    rule = ["PREROUTING", "-d", topology.VIP, "-p", "tcp", "--dport", "80",
            "-j", "MARK", "--set-mark", "1"]  # fmt: skip
    subprocess.run(["iptables-legacy", "-t", "mangle", "-A", *rule], check=True)
    try:
        start_director(f"virtual=1\n{reals_text(lab)}{HTTP_CHECK}")
        converged = wait_until("all reals weighted", lambda: live_weights() == live(lab))
        listing = ipvsadm("-L", "-n")
        spread = answers(6)
    finally:
        subprocess.run(["iptables-legacy", "-t", "mangle", "-D", *rule], check=True)
    print(f"e2e fwmark: converged in {converged:.2f} s, answers {dict(spread)}")
    assert "FWM  1 rr" in listing, listing
    assert set(spread) == names(lab)


def test_ipv6_virtual(lab: topology.Lab, start_director: StartDirector) -> None:
    start_director(f"virtual6=[{topology.VIP6}]:80\n{reals_text(lab, six=True)}{HTTP_CHECK}")
    converged = wait_until("all reals weighted", lambda: live_weights() == live(lab, six=True))
    url = f"http://[{topology.VIP6}]/"
    spread = answers(6, url)
    victim = lab.reals[0]
    victim.set_mode("503")
    detected = wait_until(f"{victim.name} quiesced",
                          lambda: live_weights()[f"[{victim.address6}]:80"] == 0)  # fmt: skip
    after = answers(4, url)
    print(f"e2e ipv6: converged in {converged:.2f} s, answers {dict(spread)}; {victim.name} "
          f"503, detected in {detected:.2f} s, then answers {dict(after)}")  # fmt: skip
    assert set(spread) == names(lab)
    assert set(after) == names(lab) - {victim.name}


def test_udp_virtual_with_ping_check(lab: topology.Lab, start_director: StartDirector) -> None:
    """UDP through IPVS, health by ICMP echo: a real that stops answering pings is quiesced
    and the client's datagrams go to the others (each from a new source port)."""
    start_director(f"virtual={topology.VIP}:80\n{reals_text(lab)}"
                   "    protocol=udp\n    checktype=ping\n    scheduler=rr\n")  # fmt: skip
    converged = wait_until("all reals weighted", lambda: live_weights() == live(lab))
    spread = Counter(topology.client_udp(topology.VIP, 80, 6))
    victim = lab.reals[1]
    loss = faults.LOSS
    try:
        loss.inject(victim)  # no echo reply
        detected = wait_until(f"{victim.name} quiesced",
                              lambda: live_weights()[f"{victim.address}:80"] == 0)  # fmt: skip
        after = Counter(topology.client_udp(topology.VIP, 80, 4))
    finally:
        loss.clear(victim)
    print(f"e2e udp+ping: converged in {converged:.2f} s, answers {dict(spread)}; {victim.name} "
          f"lost every packet, detected in {detected:.2f} s, then answers {dict(after)}")
    assert set(spread) == names(lab)
    assert set(after) == names(lab) - {victim.name}


SECOND_CLIENT = "198.51.100.3"
EXPIRE_QUIESCENT = "/proc/sys/net/ipv4/vs/expire_quiescent_template"


@pytest.fixture
def second_client() -> Iterator[str]:
    topology.ip("addr", "add", f"{SECOND_CLIENT}/24", "dev", "eth0", netns="client")
    try:
        yield SECOND_CLIENT
    finally:
        topology.ip("addr", "del", f"{SECOND_CLIENT}/24", "dev", "eth0", netns="client")
        Path(EXPIRE_QUIESCENT).write_text("0\n")


def test_persistence_with_quiescent(lab: topology.Lab, start_director: StartDirector,
                                    second_client: str, tmp_path: Path) -> None:  # fmt: skip
    """quiescent=yes keeps a quiesced real in the table at weight 0 so that a persistent
    client's template still leads to it (its sessions live on) while new clients avoid it.
    The kernel's `expire_quiescent_template` (net.ipv4.vs) decides otherwise when set: the
    template of a weight-0 real expires at its next use, moving even that client away."""
    maintenance = tmp_path / "maintenance"
    maintenance.mkdir()
    start_director(f"virtual={topology.VIP}:80\n{reals_text(lab)}{HTTP_CHECK}"
                   "    persistent=300\n", f"maintenancedir={maintenance}\n")  # fmt: skip
    wait_until("all reals weighted", lambda: live_weights() == live(lab))
    first = topology.client_get(f"http://{topology.VIP}/")
    assert first in names(lab), f"the client's first request failed: {first}"
    sticky = next(r for r in lab.reals if r.name == first)
    key = f"{sticky.address}:80"
    (maintenance / key).touch()
    quiesced = wait_until(f"{sticky.name} quiesced", lambda: live_weights()[key] == 0)
    kept = answers(3)
    newcomer = answers(3, source=second_client)
    Path(EXPIRE_QUIESCENT).write_text("1\n")
    moved = answers(3)
    print(f"e2e persistence+quiescent: client stuck to {sticky.name}, quiesced in "
          f"{quiesced:.2f} s; it then got {dict(kept)}, a new client {dict(newcomer)}; with "
          f"expire_quiescent_template=1 it got {dict(moved)}")  # fmt: skip
    assert kept == {sticky.name: 3}
    assert len(newcomer) == 1 and sticky.name not in newcomer and None not in newcomer
    assert len(moved) == 1 and sticky.name not in moved and None not in moved


class ClientLoad:
    """Client requests through the VIP back to back in a thread, each a new connection,
    until stopped (bounded by ``limit`` requests and ``seconds``)."""

    def __init__(self, limit: int = 2000, seconds: float = 240) -> None:
        self.results: list[str | None] = []
        self.limit, self.seconds = limit, seconds
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        ends = time.monotonic() + self.seconds
        while not self.stopping.is_set() and len(self.results) < self.limit \
                and time.monotonic() < ends:
            self.results.append(topology.client_get(f"http://{topology.VIP}/", timeout=5))

    def __enter__(self) -> ClientLoad:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)


def restart_drained(real: topology.Real, maintenance: Path) -> str:
    """One real through the operator's procedure; how long each wait took."""
    key = f"{real.address}:80"
    (maintenance / key).touch()
    drained = wait_until(f"{real.name} drained", lambda: live_weights()[key] == 0)
    idle = wait_until(f"{real.name} idle", lambda: active_connections()[key] == 0)
    topology.stop_server(real)
    topology.start_server(real)
    (maintenance / key).unlink()
    back = wait_until(f"{real.name} back", lambda: live_weights()[key] == 1)
    return f"{real.name} {drained:.1f}+{idle:.1f}+{back:.1f} s"


def test_rolling_restart_under_load(lab: topology.Lab, start_director: StartDirector,
                                    tmp_path: Path) -> None:  # fmt: skip
    """The operator's procedure, real by real: drain through `maintenancedir` (weight 0, then
    its active connections finish), restart the server, remove the file, wait for its weight.
    The client, hammering the VIP all along, must never see a failed request."""
    maintenance = tmp_path / "maintenance"
    maintenance.mkdir()
    start_director(f"virtual={topology.VIP}:80\n{reals_text(lab)}{HTTP_CHECK}",
                   f"maintenancedir={maintenance}\n")  # fmt: skip
    wait_until("all reals weighted", lambda: live_weights() == live(lab))
    steps = []
    with ClientLoad() as load:
        for real in lab.reals:
            steps.append(restart_drained(real, maintenance))
        time.sleep(1)  # the last real back in rotation under load
    served = Counter(load.results)
    print(f"e2e rolling restart: {len(load.results)} client requests, {served[None]} failed, "
          f"answered by {dict(served)}; drain+idle+back per real: {', '.join(steps)}")
    assert served[None] == 0
    assert set(served) == names(lab)
