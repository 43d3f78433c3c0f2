"""`make demo`, inside the sandbox kernel: a director, three real servers, traffic, a failure,
the alert it sends, and recovery. Run by tools/demo through tools/uml-run.

    python -m sandbox.demo [--shell]
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from sandbox import topology

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "sample-configs" / "demo.cf"
RUN = Path("/run/pyldirectord-demo")
LOG = Path("/run/pyldirectord-demo.log")  # as sample-configs/demo.cf says
BINARY = str(Path(sys.executable).with_name("pyldirectord"))
DEADLINE = 30.0


def step(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def show(command: list[str]) -> str:
    print("$ " + " ".join(command), flush=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    print((done.stdout + done.stderr).rstrip(), flush=True)
    return done.stdout + done.stderr


def traffic(requests: int = 9) -> Counter[str]:
    answers = Counter(
        topology.client_get(f"http://{topology.VIP}/") or "(failed)" for _ in range(requests)
    )
    spread = ", ".join(f"{name} x{count}" for name, count in sorted(answers.items()))
    print(f"{requests} client requests to http://{topology.VIP}/ were answered by: {spread}",
          flush=True)  # fmt: skip
    return answers


def weight_of(address: str) -> int | None:
    listing = subprocess.run(["ipvsadm", "-Ln"], capture_output=True, text=True, check=True)
    for line in listing.stdout.splitlines():
        if f" {address}:80 " in line:
            return int(line.split()[3])
    return None


def wait_for(what: str, condition: Callable[[], bool]) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > DEADLINE:
            raise SystemExit(f"demo: {what} did not happen within {DEADLINE:.0f}s")
        time.sleep(0.05)
    took = time.monotonic() - started
    print(f"({what}: {took:.2f}s)", flush=True)
    return took


def mails(mailbox: Path) -> list[email.message.Message]:
    found = sorted((mailbox / "new").glob("*")) if (mailbox / "new").exists() else []
    return [email.message_from_bytes(path.read_bytes()) for path in found]


def main(shell: bool) -> int:
    RUN.mkdir(parents=True, exist_ok=True)
    step("Building the lab: client netns, director (this kernel), three real servers in netns")
    lab = topology.build(RUN / "lab")
    for real in lab.reals:
        topology.start_server(real)
        print(f"{real.name}: http://{real.address}/ answers '{real.name}'", flush=True)
    mailbox = RUN / "mail"
    smtp = Controller(Mailbox(mailbox), hostname="127.0.0.1", port=25)
    smtp.start()
    try:
        if shell:
            return interactive()
        try:
            return story(lab, mailbox)
        finally:
            step("The director's log")
            print(LOG.read_text().rstrip() if LOG.exists() else "(no log)", flush=True)
    finally:
        subprocess.run([BINARY, str(CONFIG), "stop"], capture_output=True, check=False)
        smtp.stop()
        topology.teardown(lab)


def story(lab: topology.Lab, mailbox: Path) -> int:
    step("The config, checked as an operator would before a cut-over")
    show([BINARY, "--check-config", str(CONFIG)])
    step("Starting the director exactly as heartbeat does: pyldirectord CONFIG start")
    show([BINARY, str(CONFIG), "start"])
    wait_for("all three reals weighted", lambda: all(weight_of(r.address) for r in lab.reals))
    show(["ipvsadm", "-Ln"])
    traffic()
    victim = lab.reals[1]
    step(f"Stopping the web server on {victim.name} ({victim.address})")
    topology.stop_server(victim)
    wait_for(f"{victim.name} quiesced to weight 0", lambda: weight_of(victim.address) == 0)
    show(["ipvsadm", "-Ln"])
    served = traffic()
    assert victim.name not in served, f"{victim.name} still got traffic"
    step("The alert the director sent (a local SMTP sink received it)")
    wait_for("the alert email", lambda: len(mails(mailbox)) >= 1)
    alert = mails(mailbox)[-1]
    print(f"From: {alert['From']}\nTo: {alert['To']}\nSubject: {alert['Subject']}\n")
    print(str(alert.get_payload()).rstrip(), flush=True)
    step(f"{victim.name} comes back")
    topology.start_server(victim)
    wait_for(f"{victim.name} restored", lambda: weight_of(victim.address) == 1)
    show(["ipvsadm", "-Ln"])
    traffic()
    step("Status, as heartbeat and the OCF agent ask for it")
    show([BINARY, str(CONFIG), "status"])
    step("Stopping the director (cleanstop=yes removes its virtual service)")
    show([BINARY, str(CONFIG), "stop"])
    show(["ipvsadm", "-Ln"])
    print("\ndemo: done", flush=True)
    return 0


def interactive() -> int:
    step("Sandbox shell: try `pyldirectord sample-configs/demo.cf start`, `ipvsadm -Ln`, "
         "`ip netns exec client curl -s http://198.51.100.80/`; exit to leave")  # fmt: skip
    # the venv's bin first, so that `pyldirectord` is the one under test
    path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    subprocess.run(["bash", "-i"], env={**os.environ, "PATH": path}, check=False)
    return 0  # the shell's last status is the operator's business, not the demo's


if __name__ == "__main__":
    raise SystemExit(main("--shell" in sys.argv[1:]))
