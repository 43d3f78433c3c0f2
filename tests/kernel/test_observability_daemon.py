"""The daemon's observability in the sandbox kernel: `pyldirectord CONFIG start` with
statusaddress= and eventlog= on, under a notify socket the test binds as systemd would. A real
Prometheus (Debian's) scrapes /metrics every second and its query API shows the transition
after a real starts failing; /status and / show it, and headless Chromium renders the page;
the event log has its line; systemd's
messages come: MAINPID (the daemon), READY=1, WATCHDOG=1, STOPPING=1."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from ipvsadm_text import live_weights

from sandbox import topology

pytestmark = pytest.mark.kernel
DEADLINE = 30.0
BINARY = str(Path(sys.executable).with_name("pyldirectord"))
PROMETHEUS = shutil.which("prometheus")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(what: str, condition: Callable[[], object], deadline: float = DEADLINE) -> object:
    started = time.monotonic()
    while not (value := condition()):
        if time.monotonic() - started > deadline:
            raise AssertionError(f"not within {deadline:.0f}s: {what}; table {live_weights()}")
        time.sleep(0.2)
    return value


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return str(reply.read().decode())


class Systemd:
    """The notify socket, read at once by a thread as systemd does: a unix datagram queue
    holds only net.unix.max_dgram_qlen (10) messages, then the daemon's sends are dropped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.socket.settimeout(0.5)
        self._messages: list[list[str]] = []
        self._read = 0
        self._arrived = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed:
            try:
                data = self.socket.recv(4096)
            except TimeoutError:
                continue
            with self._arrived:
                self._messages.append(data.decode().split("\n"))
                self._arrived.notify_all()

    def until(self, field: str) -> list[str]:
        """The next message with a field starting with ``field`` (those before it skipped)."""
        with self._arrived:
            while True:
                for index in range(self._read, len(self._messages)):
                    if any(item.startswith(field) for item in self._messages[index]):
                        self._read = index + 1
                        return self._messages[index]
                self._read = len(self._messages)
                assert self._arrived.wait(DEADLINE), f"no {field} within {DEADLINE:.0f}s"

    def close(self) -> None:
        self._closed = True
        self._thread.join()
        self.socket.close()


@contextmanager
def prometheus(directory: Path, target: str) -> Iterator[str]:
    assert PROMETHEUS is not None, "needs Debian's prometheus (make apt installs it)"
    port = free_port()
    config = directory / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: pyldirectord\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    log = (directory / "prometheus.log").open("w")
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={directory / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=log,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        # Prometheus starts slowly on the sandbox's one vCPU: a bound that only catches hangs
        wait_for("prometheus ready", lambda: _ready(base, process), deadline=4 * DEADLINE)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=DEADLINE)
        log.close()
        print((directory / "prometheus.log").read_text())


def _ready(base: str, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, "prometheus exited"
    try:
        return "Ready" in get(f"{base}/-/ready")
    except OSError:
        return False


def query(base: str, expression: str) -> float | None:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    document = json.loads(get(url))
    assert document["status"] == "success", document
    result = document["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def config_text(lab: topology.Lab, directory: Path, port: int) -> str:
    reals = "".join(f"    real={r.address}:80 masq {i + 1}\n" for i, r in enumerate(lab.reals))
    return (
        "checkinterval=1\nchecktimeout=1\nnegotiatetimeout=1\nquiescent=yes\n"
        f'logfile="{directory / "ldirectord.log"}"\n'
        f"statusaddress=127.0.0.1:{port}\neventlog={directory / 'events.jsonl'}\n"
        f"virtual={topology.VIP}:80\n{reals}"
        '    service=http\n    request="/"\n    receive="real"\n    scheduler=rr\n'
        "    persistent=60\n"  # for preflight: quiescent=yes with persistence
    )


def chromium(profile: Path, url: str) -> str:
    """Headless Chromium renders ``url``: the DOM it built; its screenshot is kept as an
    artefact (build/status-page-sandbox.png, the daemon's page over the sandbox's lab)."""
    artefact = Path(__file__).resolve().parents[2] / "build" / "status-page-sandbox.png"
    artefact.parent.mkdir(exist_ok=True)
    profile.mkdir()
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--window-size=1100,250",
         "--hide-scrollbars", f"--screenshot={artefact}", "--dump-dom", url],
        capture_output=True, text=True, check=False,
        timeout=8 * DEADLINE,  # about 50 s to start on the sandbox's one vCPU: catches hangs
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    print(f"status page screenshot: {artefact}")
    return done.stdout


def cli(config: Path, action: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([BINARY, str(config), action], capture_output=True, text=True,
                          timeout=60, check=False, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_daemon_metrics_status_event_log_and_systemd(
    lab: topology.Lab, clean_table: None, tmp_path: Path
) -> None:
    for real in lab.reals:
        real.set_mode("ok")
    port = free_port()
    config = tmp_path / "observed.cf"
    config.write_text(config_text(lab, tmp_path, port))
    systemd = Systemd(tmp_path / "notify")
    env = {**os.environ, "NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "2000000"}
    victim = lab.reals[1]
    where = f'virtual="tcp:{topology.VIP}:80",real="{victim.address}:80"'
    try:
        cli(config, "start", env)
        mainpid = systemd.until("MAINPID=")
        status = cli(config, "status")
        pid = re.search(r"running with pid: (\d+)", status)
        assert pid is not None and mainpid == [f"MAINPID={pid.group(1)}"]
        assert systemd.until("READY=1") == ["READY=1", "STATUS=checks running"]
        assert systemd.until("WATCHDOG=1") == ["WATCHDOG=1"]
        base = f"http://127.0.0.1:{port}"
        assert "pyldirectord_real_up" in get(f"{base}/metrics")
        with prometheus(tmp_path, f"127.0.0.1:{port}") as prom:
            wait_for("prometheus sees the real up",
                     lambda: query(prom, f"pyldirectord_real_up{{{where}}}") == 1.0)
            victim.set_mode("503")
            started = time.monotonic()
            wait_for("prometheus sees the transition",
                     lambda: query(prom, f'pyldirectord_real_transitions_total{{{where},'
                                         'to="down"}') == 1.0)  # fmt: skip
            seen = time.monotonic() - started
            wait_for("prometheus sees weight 0",
                     lambda: query(prom, f"pyldirectord_real_weight{{{where}}}") == 0.0)
        document = json.loads(get(f"{base}/status"))
        reals = {r["real"]: r for v in document["virtuals"] for r in v["reals"]}
        assert reals[f"{victim.address}:80"]["state"] == "down"
        assert reals[f"{victim.address}:80"]["weight"] == 0
        assert live_weights()[f"{victim.address}:80"] == 0
        page = get(f"{base}/")
        assert f'<td>{victim.address}:80</td><td class="down">down</td>' in page
        dom = chromium(tmp_path / "chromium", f"{base}/")
        for real in lab.reals:
            state = "down" if real is victim else "up"
            assert f'<td>{real.address}:80</td><td class="{state}">{state}</td>' in dom
        events = [json.loads(line)
                  for line in (tmp_path / "events.jsonl").read_text().splitlines()]  # fmt: skip
        downs = [e for e in events if e["new"] == "down"]
        assert [(e["real"], e["old"]) for e in downs] == [(f"{victim.address}:80", "up")]
        assert downs[0]["reason"].startswith("503")
        assert systemd.until("WATCHDOG=1") == ["WATCHDOG=1"]  # still checking
    finally:
        subprocess.run([BINARY, str(config), "stop"], timeout=60, check=False)
        victim.set_mode("ok")
        print((tmp_path / "ldirectord.log").read_text())
    assert systemd.until("STOPPING=1") == ["STOPPING=1"]
    systemd.close()
    expire = Path("/proc/sys/net/ipv4/vs/expire_quiescent_template").read_text().strip()
    log = (tmp_path / "ldirectord.log").read_text()
    warned = "Preflight warning (line 8): quiescent=yes with persistence" in log
    assert warned == (expire == "0"), log
    print(f"e2e observability: prometheus showed the transition {seen:.1f}s after the 503")
