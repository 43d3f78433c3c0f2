"""The ways a real server fails, each made for real inside its netns and undone again.

Each fault is what an operator meets in production: the process dies (the kernel answers
connects with RST), the address goes away (a blackhole: nothing answers, not even ARP), a
firewall drops the port, the link loses every packet or is slower than the check timeout, or
the application answers but wrongly (HTTP 503, a page without the expected text).
`clear` undoes a fault whether or not it was injected, so a test can always call it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sandbox import topology
from sandbox.topology import Real


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[Real], None]
    clear: Callable[[Real], None]


def _kill(real: Real) -> None:
    topology.stop_server(real)


def _revive(real: Real) -> None:
    if real.server is None or real.server.poll() is not None:
        topology.start_server(real)


def _remove_address(real: Real) -> None:
    topology.ip("addr", "del", f"{real.address}/24", "dev", "eth0", netns=real.name)


def _restore_address(real: Real) -> None:
    # removing the address took its connected route, and the default route through it
    topology.ip("addr", "replace", f"{real.address}/24", "dev", "eth0", netns=real.name)
    topology.ip("route", "replace", "default", "via", f"{topology.REAL_NET}.1",
                netns=real.name)  # fmt: skip


def _firewall(real: Real) -> None:
    # iptables-legacy: Debian's default iptables speaks nftables, which the UML kernel lacks
    topology.run("iptables-legacy", "-A", "INPUT", "-p", "tcp", "--dport", "80", "-j", "DROP",
                 netns=real.name)  # fmt: skip


def _unfirewall(real: Real) -> None:
    topology.run("iptables-legacy", "-F", "INPUT", netns=real.name)


def _netem(*args: str) -> Callable[[Real], None]:
    def inject(real: Real) -> None:
        topology.run("tc", "qdisc", "replace", "dev", "eth0", "root", "netem", *args,
                     netns=real.name)  # fmt: skip

    return inject


def _no_netem(real: Real) -> None:
    topology.run("tc", "qdisc", "del", "dev", "eth0", "root", netns=real.name, check=False)


def _mode(mode: str) -> Callable[[Real], None]:
    def inject(real: Real) -> None:
        real.set_mode(mode)

    return inject


KILLED = Fault("process killed (RST)", _kill, _revive)
BLACKHOLE = Fault("address removed (blackhole)", _remove_address, _restore_address)
FIREWALLED = Fault("port firewalled (iptables drop)", _firewall, _unfirewall)
LOSS = Fault("netem 100% loss", _netem("loss", "100%"), _no_netem)
DELAY = Fault("netem 2 s delay", _netem("delay", "2000ms"), _no_netem)
HTTP_503 = Fault("HTTP 503", _mode("503"), _mode("ok"))
NO_MATCH = Fault("body without the receive string", _mode("nomatch"), _mode("ok"))
FAULTS = (KILLED, BLACKHOLE, FIREWALLED, LOSS, DELAY, HTTP_503, NO_MATCH)


def clear_all(real: Real) -> None:
    """Every fault undone: the real as the lab built it, its server answering."""
    for fault in reversed(FAULTS):  # the server restarts last: it must answer on its address
        fault.clear(real)
