"""Each way a real fails, against one running daemon with real client traffic (issue 6).

For each fault the victim must be quiesced (weight 0, `quiescent=yes`), after which no new
client connection reaches it (IPVS's own per-real connection counter stays still while the
client's requests are all answered by the other reals); then the fault is undone and the real
restored. Detection is timed from the fault's injection to the weight change in the kernel.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from e2e_director import Director, answers, connections, wait_until
from ipvsadm_text import live_weights

from sandbox import faults, topology

pytestmark = pytest.mark.kernel
REQUESTS = 6


def http_virtual(lab: topology.Lab, extra: str = "") -> str:
    reals = "".join(f"    real={r.address}:80 masq 1\n" for r in lab.reals)
    return (f"virtual={topology.VIP}:80\n{reals}"
            '    service=http\n    request="/"\n    receive="real"\n    scheduler=rr\n'
            f"{extra}")  # fmt: skip


def all_live(lab: topology.Lab) -> dict[str, int]:
    return {f"{r.address}:80": 1 for r in lab.reals}


@pytest.fixture(scope="module")
def director(lab: topology.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Director]:
    subprocess.run(["ipvsadm", "-C"], check=True)
    for real in lab.reals:
        faults.clear_all(real)
    daemon = Director(tmp_path_factory.mktemp("faults"), http_virtual(lab))
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()
        subprocess.run(["ipvsadm", "-C"], check=True)


@pytest.mark.parametrize("fault", faults.FAULTS, ids=lambda fault: fault.name)
def test_fault_quiesces_the_real(lab: topology.Lab, director: Director,
                                 fault: faults.Fault) -> None:  # fmt: skip
    victim, others = lab.reals[1], {r.name for r in lab.reals[::2]}
    key = f"{victim.address}:80"
    wait_until("all reals weighted", lambda: live_weights() == all_live(lab))
    try:
        fault.inject(victim)
        detected = wait_until(f"{fault.name}: {victim.name} quiesced",
                              lambda: live_weights()[key] == 0)  # fmt: skip
        before = connections()[key]
        served = answers(REQUESTS)
        reached = connections()[key] - before
    finally:
        fault.clear(victim)
    restored = wait_until(f"{victim.name} restored", lambda: live_weights() == all_live(lab))
    print(f"e2e {fault.name}: detected in {detected:.2f} s; then {REQUESTS} client requests "
          f"answered by {dict(served)}, {reached} new connections to {victim.name}; "
          f"restored {restored:.2f} s after the fault was undone")  # fmt: skip
    assert reached == 0, f"{reached} new client connections reached the quiesced {victim.name}"
    assert set(served) == others, f"requests not all answered by the live reals: {served}"

