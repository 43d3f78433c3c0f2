"""`make bench`: pyldirectord beside the Perl ldirectord and keepalived, in one sandbox run.

For each N, director and check: start the director on an empty IPVS table, then measure
  converge  start -> all N reals at weight > 0,
  CPU       CPU-seconds of the director's whole process tree over a steady window, per minute
            and per 1,000 checks (checks counted by the farm's server, not assumed),
  detect    10 % of the reals blackholed (addresses removed) -> all of them at weight 0,
  recover   the addresses back -> all N at weight > 0,
  peak RSS  the largest sum of RSS over the process tree, sampled every 0.25 s.
The table is read from /proc/net/ip_vs (cheap: the poller shares the one vCPU), CPU and RSS
from /proc/PID/stat. Results go to a JSON file; `bench/report.py` writes the Markdown and plot.

Runs only inside the sandbox (tools/uml-run), as root: it builds netns "farm".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import directors
import farm

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
PHASE_TIMEOUT = 120.0


@dataclass
class Result:
    director: str
    check: str
    reals: int
    converge: float | None = None  # seconds; None: not within the timeout
    cpu_per_min: float | None = None
    cpu_per_1k_checks: float | None = None
    checks_per_s: float | None = None
    detect: float | None = None
    recover: float | None = None
    peak_rss_mb: float | None = None
    false_downs: int = 0  # healthy reals seen at weight 0 after converging
    notes: list[str] = field(default_factory=list)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---- the process tree, from /proc ----

def proc_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (ppid, CPU ticks incl. reaped children, RSS pages) for every live process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # exited while we looked
        fields = text[text.rindex(")") + 2:].split()
        # fields[0] is stat field 3 (state): ppid 4, utime..cstime 14-17, rss 24.
        cpu = sum(int(value) for value in fields[11:15])
        table[int(entry)] = (int(fields[1]), cpu, int(fields[21]))
    return table


def tree_usage(root: int) -> tuple[float, float]:
    """(CPU seconds, RSS MB) summed over `root` and its descendants."""
    table = proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    pending, cpu, rss = [root], 0, 0
    while pending:
        pid = pending.pop()
        if pid in table:
            cpu += table[pid][1]
            rss += table[pid][2]
            pending.extend(children.get(pid, []))
    return cpu / TICKS, rss * PAGE / 2**20


class RssSampler:
    """Peak RSS of a process tree, sampled in a thread while a run lasts."""

    def __init__(self, root: int) -> None:
        self.root, self.peak = root, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            self.peak = max(self.peak, tree_usage(self.root)[1])

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


# ---- the IPVS table, from /proc/net/ip_vs ----

def hex_key(address: str) -> str:
    return socket.inet_aton(address).hex().upper()


def weights() -> dict[str, int]:
    """Every real's weight by its address as /proc/net/ip_vs spells it (hex)."""
    result = {}
    with open("/proc/net/ip_vs") as table:
        for line in table:
            if line.startswith("  ->") and not line.startswith("  -> Remote"):
                parts = line.split()
                result[parts[1].split(":")[0]] = int(parts[3])
    return result


def wait_until(condition: Callable[[dict[str, int]], bool], timeout: float,
               poll: float) -> float | None:  # fmt: skip
    started = time.monotonic()
    while True:
        if condition(weights()):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            return None
        time.sleep(poll)


def all_up(keys: list[str]) -> Callable[[dict[str, int]], bool]:
    return lambda table: all(table.get(key, 0) > 0 for key in keys)


def all_down(keys: list[str]) -> Callable[[dict[str, int]], bool]:
    return lambda table: all(table.get(key, 1) == 0 for key in keys)


def flush_ipvs() -> None:
    subprocess.run(["ipvsadm", "-C"], check=True)


# ---- one run: one director, one check, one N ----

@dataclass
class Plan:
    window: float
    converge_timeout: float
    workdir: Path
    profile_dir: Path | None = None
    keep_logs: Path | None = None


def py_spy(run: directors.Running, plan: Plan, name: str) -> subprocess.Popen[bytes] | None:
    """py-spy sampling pyldirectord for 15 s, when asked; it costs CPU, so never during the
    CPU window: once in a steady window of its own, once across the detection."""
    if plan.profile_dir is None or run.name != "pyldirectord":
        return None
    plan.profile_dir.mkdir(parents=True, exist_ok=True)
    out = plan.profile_dir / f"{name}.txt"
    command = [str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
               str(run.root_pid), "--duration", "15", "--rate", "50", "--format", "raw",
               "--output", str(out), "--nonblocking"]  # fmt: skip
    log(f"  profile: {out}")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish(profiler: subprocess.Popen[bytes] | None) -> None:
    if profiler is not None:
        profiler.wait(timeout=60)


def measure_cpu(run: directors.Running, server: farm.Server, keys: list[str],
                plan: Plan, result: Result) -> None:  # fmt: skip
    cpu0, _ = tree_usage(run.root_pid)
    checks0, started = server.connections(), time.monotonic()
    while time.monotonic() - started < plan.window:
        time.sleep(2.0)
        table = weights()
        result.false_downs = max(result.false_downs, sum(table.get(k, 0) == 0 for k in keys))
    cpu1, _ = tree_usage(run.root_pid)
    elapsed, checks = time.monotonic() - started, server.connections() - checks0
    result.cpu_per_min = (cpu1 - cpu0) * 60 / elapsed
    result.checks_per_s = checks / elapsed
    if checks:
        result.cpu_per_1k_checks = (cpu1 - cpu0) * 1000 / checks


def measure_faults(keys: list[str], reals: list[str], poll: float, result: Result) -> None:
    victims = reals[::10]
    victim_keys = set(map(hex_key, victims))
    farm.remove_reals(victims)
    result.detect = wait_until(all_down(sorted(victim_keys)), PHASE_TIMEOUT, poll)
    healthy = [key for key in keys if key not in victim_keys]
    table = weights()
    result.false_downs = max(result.false_downs, sum(table.get(k, 0) == 0 for k in healthy))
    farm.add_reals(victims)
    result.recover = wait_until(all_up(keys), PHASE_TIMEOUT, poll)


def count_overload_lines(path: Path) -> int:
    try:
        return sum("overload" in line.lower() for line in path.open(errors="replace"))
    except FileNotFoundError:
        return 0


@contextmanager
def running(name: str, reals: list[str], check: str, plan: Plan) -> Iterator[directors.Running]:
    flush_ipvs()
    run = directors.STARTERS[name](plan.workdir, reals, check)
    try:
        yield run
    finally:
        try:
            run.stop()
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            log(f"  stop failed: {error}")
        kill_tree(run.root_pid)
        flush_ipvs()


def kill_tree(root: int) -> None:
    """Whatever of this run's own tree outlived its stop (only pids under our director)."""
    table = proc_table()
    doomed, pending = [], [root]
    while pending:
        pid = pending.pop()
        if pid in table:
            doomed.append(pid)
            pending.extend(p for p, (ppid, _, _) in table.items() if ppid == pid)
    for pid in doomed:
        with suppress(ProcessLookupError):
            os.kill(pid, 9)


def one_run(name: str, check: str, count: int, server: farm.Server, plan: Plan) -> Result:
    result = Result(name, check, count)
    reals = farm.addresses(count)
    keys = [hex_key(address) for address in reals]
    poll = 0.1 if count <= 1000 else 0.25
    started = time.monotonic()
    with running(name, reals, check, plan) as run:
        sampler = RssSampler(run.root_pid)
        try:
            # From the start command, as an operator sees it (includes the daemon's start-up).
            result.converge = wait_until(all_up(keys), plan.converge_timeout, poll)
            if result.converge is not None:
                result.converge = time.monotonic() - started
                log(f"  converged in {result.converge:.2f} s")
                time.sleep(2.0)  # one checkinterval: the start-up burst is over
                measure_cpu(run, server, keys, plan, result)
                log(f"  CPU {result.cpu_per_min:.2f} s/min, {result.checks_per_s:.0f} checks/s")
                finish(py_spy(run, plan, f"pyldirectord-{check}-{count}-steady"))
                profiler = py_spy(run, plan, f"pyldirectord-{check}-{count}-detect")
                measure_faults(keys, reals, poll, result)
                finish(profiler)
            else:
                result.notes.append(f"not converged in {plan.converge_timeout:.0f} s")
        finally:
            result.peak_rss_mb = sampler.stop()
        if plan.keep_logs is not None:
            plan.keep_logs.mkdir(parents=True, exist_ok=True)
            with suppress(FileNotFoundError):
                shutil.copy(run.log, plan.keep_logs / f"{run.log.stem}-{count}.log")
        overloads = count_overload_lines(run.log)
        if overloads:
            result.notes.append(f"{overloads} 'overloaded' log lines")
    return result


def describe(result: Result) -> str:
    def show(value: float | None, unit: str = "s") -> str:
        return "-" if value is None else f"{value:.2f} {unit}"

    return (f"converge {show(result.converge)}, detect {show(result.detect)}, recover "
            f"{show(result.recover)}, CPU/1k {show(result.cpu_per_1k_checks)}, peak RSS "
            f"{show(result.peak_rss_mb, 'MB')}, false downs {result.false_downs} "
            f"{'; '.join(result.notes)}")  # fmt: skip


# ---- the whole bench ----

def environment() -> dict[str, str]:
    uname = platform.uname()
    cpus = os.cpu_count() or 0
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"User-Mode Linux sandbox, {cpus} vCPU, host {uname.machine}",
        "kernel": f"{uname.release} ({uname.version})",
        "python": platform.python_version(),
        **{f"version {name}": text for name, text in directors.versions().items()},
    }


def wanted_runs(args: argparse.Namespace) -> Iterator[tuple[int, str, str]]:
    for count in args.reals:
        for name in args.directors:
            if name == "ldirectord" and count > args.ldirectord_max:
                continue
            for check in args.checks:
                yield count, name, check


def run_all(args: argparse.Namespace, workdir: Path) -> list[Result]:
    plan = Plan(args.window, args.converge_timeout, workdir, args.profile_dir,
                args.keep_logs)
    results: list[Result] = []
    gave_up: set[tuple[str, str]] = set()
    runs = list(wanted_runs(args))
    farm.build()
    server = farm.Server(workdir)
    try:
        for index, (count, name, check) in enumerate(runs, 1):
            if (name, check) in gave_up:
                log(f"skip {name} {check} N={count}: did not converge at a smaller N")
                continue
            farm.set_reals(count)
            log(f"run {index}/{len(runs)}: {name} {check} N={count}")
            result = one_run(name, check, count, server, plan)
            log(f"  {describe(result)}")
            if result.converge is None:
                gave_up.add((name, check))
            results.append(result)
            save(args.json, results)
    finally:
        server.stop()
        farm.teardown()
    return results


def save(path: Path, results: list[Result]) -> None:
    payload = {"environment": environment(), "results": [asdict(r) for r in results]}
    path.write_text(json.dumps(payload, indent=1) + "\n")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reals", type=int, nargs="+", default=[200, 1000, 5000])
    parser.add_argument("--directors", nargs="+", choices=sorted(directors.STARTERS),
                        default=["pyldirectord", "keepalived", "ldirectord"])  # fmt: skip
    parser.add_argument("--checks", nargs="+", choices=directors.CHECKS,
                        default=list(directors.CHECKS))  # fmt: skip
    parser.add_argument("--ldirectord-max", type=int, default=200,
                        help="run the Perl ldirectord only up to this N (it checks serially)")
    parser.add_argument("--window", type=float, default=30.0, help="steady CPU window, s")
    parser.add_argument("--converge-timeout", type=float, default=600.0)
    parser.add_argument("--profile-dir", type=Path, default=None,
                        help="also record py-spy stacks of pyldirectord's steady state here")
    parser.add_argument("--keep-logs", type=Path, default=None,
                        help="copy each director's log here after its run")
    parser.add_argument("--json", type=Path, default=Path("bench/results.json"))
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if os.environ.get("UML_SANDBOX") != "1":
        sys.exit("director_bench.py runs inside the sandbox: use `make bench`")
    log(f"bench: N={args.reals} directors={args.directors} checks={args.checks}")
    with tempfile.TemporaryDirectory(prefix="bench.") as workdir:
        results = run_all(args, Path(workdir))
    save(args.json, results)
    log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
