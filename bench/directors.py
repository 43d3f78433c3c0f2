"""The three directors `make bench` compares, each with an equivalent configuration.

Every director gets one virtual (192.0.2.80:80, gate, rr; the bench never sends traffic to
it) with N reals, checkinterval 2 s, checktimeout 1 s, and a failed check weighs the real 0
at once (quiescent=yes and failurecount 1; keepalived: inhibit_on_failure and retry 0). At
start every real is taken as down until its first check passes (keepalived: alpha), so
"converge" measures checks, not a start-up assumption.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from farm import PORT

VIP = "192.0.2.80"
CHECKS = ("connect", "http")
PYLDIRECTORD = str(Path(sys.executable).with_name("pyldirectord"))
LDIRECTORD = "/usr/sbin/ldirectord"
KEEPALIVED = "keepalived"


@dataclass
class Running:
    """A started director: the root of its process tree and how to stop it."""

    name: str
    root_pid: int
    stop: Callable[[], None]
    log: Path


def wait_for_pid_file(path: Path, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            text = ""
        if text.isdigit() and Path(f"/proc/{text}").exists():
            return int(text)
        time.sleep(0.05)
    raise RuntimeError(f"no live pid in {path} after {timeout:.0f}s")


def ldirectord_config(reals: list[str], check: str, log: Path) -> str:
    """The same file for pyldirectord and the Perl ldirectord."""
    lines = [f"    real={address}:{PORT} gate\n" for address in reals]
    checking = (
        "    checktype=connect\n" if check == "connect" else
        '    checktype=negotiate\n    service=http\n    request="/"\n    receive="alive"\n'
    )  # fmt: skip
    return (
        "checkinterval=2\nchecktimeout=1\nnegotiatetimeout=1\n"
        f'quiescent=yes\nautoreload=no\nlogfile="{log}"\n'
        f"virtual={VIP}:{PORT}\n{''.join(lines)}{checking}"
        "    scheduler=rr\n    protocol=tcp\n"
    )


def keepalived_config(reals: list[str], check: str) -> str:
    if check == "connect":
        checker = (
            "        TCP_CHECK {\n            connect_timeout 1\n            retry 0\n        }\n"
        )
    else:
        checker = (
            "        HTTP_GET {\n            url {\n                path /\n"
            "                status_code 200\n            }\n"
            "            connect_timeout 1\n            retry 0\n        }\n"
        )
    blocks = "".join(
        f"    real_server {address} {PORT} {{\n        weight 1\n        inhibit_on_failure\n"
        f"{checker}    }}\n"
        for address in reals
    )
    return (
        "global_defs {\n    router_id bench\n}\n"
        f"virtual_server {VIP} {PORT} {{\n    delay_loop 2\n    lb_algo rr\n    lb_kind DR\n"
        f"    protocol TCP\n    alpha\n{blocks}}}\n"
    )


def _cli(binary: str, config: Path, action: str) -> None:
    done = subprocess.run([binary, str(config), action], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{binary} {config} {action}: exit {done.returncode}: "
                           f"{done.stderr.strip()[-500:]}")  # fmt: skip


def start_ldirectord_like(name: str, binary: str, workdir: Path, reals: list[str],
                          check: str) -> Running:  # fmt: skip
    # As an operator lays it out: the config alone in its directory (pyldirectord watches
    # the directory for edits, so a log or counter written next to it would wake it up).
    config = workdir / "etc" / f"{name}-{check}" / f"{name}-{check}.cf"
    log = workdir / "log" / f"{name}-{check}.log"
    config.parent.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(ldirectord_config(reals, check, log))
    pid_file = Path(f"/run/ldirectord.{config.name}.pid")
    pid_file.unlink(missing_ok=True)
    _cli(binary, config, "start")
    pid = wait_for_pid_file(pid_file)
    return Running(name, pid, lambda: _cli(binary, config, "stop"), log)


def start_pyldirectord(workdir: Path, reals: list[str], check: str) -> Running:
    return start_ldirectord_like("pyldirectord", PYLDIRECTORD, workdir, reals, check)


def start_ldirectord(workdir: Path, reals: list[str], check: str) -> Running:
    return start_ldirectord_like("ldirectord", LDIRECTORD, workdir, reals, check)


def start_keepalived(workdir: Path, reals: list[str], check: str) -> Running:
    config = workdir / f"keepalived-{check}.conf"
    config.write_text(keepalived_config(reals, check))
    log = workdir / f"keepalived-{check}.log"
    pids = {kind: workdir / f"keepalived-{check}.{kind}.pid" for kind in ("main", "chk", "vrrp")}
    command = [KEEPALIVED, "--dont-fork", "--log-console", "--check", "--use-file", str(config),
               "--pid", str(pids["main"]), "--checkers_pid", str(pids["chk"]),
               "--vrrp_pid", str(pids["vrrp"])]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip

    def stop() -> None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    return Running("keepalived", process.pid, stop, log)


STARTERS: dict[str, Callable[[Path, list[str], str], Running]] = {
    "pyldirectord": start_pyldirectord,
    "ldirectord": start_ldirectord,
    "keepalived": start_keepalived,
}


def _package_version(package: str) -> str:
    done = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package],
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.stdout.strip() or "not installed"


def versions() -> dict[str, str]:
    return {
        "pyldirectord": version("pyldirectord"),
        "ldirectord": f"Debian {_package_version('ldirectord')}",
        "keepalived": f"Debian {_package_version('keepalived')}",
    }
