"""Run Debian's Perl ldirectord and pyldirectord on a config and read their verdicts.

Both run in a private network namespace (``unshare -n``: only a downed loopback), so a name
that is not in /etc/hosts fails at once for both, and no lookup leaves the machine. The
reference also runs in a private mount namespace with a scratch directory bound over
/var/log (it logs ``Invoking ldirectord ...`` there) and with its own cwd and HOME.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REFERENCE = "/usr/sbin/ldirectord"
REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus"
TIMEOUT = 30.0
EXPECT = re.compile(r"^# expect: (valid|error (\d+): (.*))$", re.M)
SKIP = re.compile(r"^# reference: skip: (.*)$", re.M)


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    line: int = 0
    message: str = ""

    def __str__(self) -> str:
        return "valid" if self.valid else f"error {self.line}: {self.message}"


def normalise(message: str) -> str:
    """Messages on one line: the reference's embed raw lines (with their newline)."""
    return message.replace("\n", "").replace("\r", "\\r").rstrip()


def expected(path: Path) -> Verdict | None:
    match = EXPECT.search(path.read_bytes().decode("utf-8", "surrogateescape"))
    if match is None or match.group(1) == "PENDING":
        return None
    if match.group(1) == "valid":
        return Verdict(True)
    return Verdict(False, int(match.group(2)), match.group(3))


def skip_reason(path: Path) -> str | None:
    match = SKIP.search(path.read_bytes().decode("utf-8", "surrogateescape"))
    return match.group(1) if match else None


def corpus() -> list[Path]:
    return sorted(CORPUS.glob("*.cf"))


def _sandboxed(argv: list[str], workdir: str, *, private_log: bool) -> list[str]:
    mount = 'mount --bind "$0/log" /var/log && ' if private_log else ""
    script = f'{mount}cd "$0" && exec "$@"'
    return ["unshare", "-n", "-m", "sh", "-c", script, workdir, *argv]


def _run(argv: list[str], *, private_log: bool) -> subprocess.CompletedProcess[str]:
    """Run sandboxed; output decoded without newline translation (text mode would eat the
    CR of a message that embeds a CRLF line)."""
    with tempfile.TemporaryDirectory(prefix="ldiff-") as workdir:
        os.mkdir(os.path.join(workdir, "log"))
        # PERLIO set: the reference re-execs itself to set it otherwise (twice the start-up).
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": workdir, "LANG": "C",
               "PERLIO": "perlio"}
        if "PYTHONPATH" in os.environ:
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        result = subprocess.run(
            _sandboxed(argv, workdir, private_log=private_log), env=env, capture_output=True,
            timeout=TIMEOUT, check=False,
        )  # fmt: skip
        out, err = (data.decode("utf-8", "surrogateescape") for data in (result.stdout,
                                                                          result.stderr))
        return subprocess.CompletedProcess(result.args, result.returncode, out, err)


REFERENCE_ERROR = re.compile(r"Error \[\d+\](?: reading file .* at line (\d+))?: (.*)", re.S)


def reference_status(path: Path) -> subprocess.CompletedProcess[str]:
    """``ldirectord CONFIG status``: 3 = valid and stopped, 2 = config error."""
    return _run([REFERENCE, str(path), "status"], private_log=True)


def reference_verdict(path: Path) -> Verdict:
    return verdict_of_status(path, reference_status(path))


def verdict_of_status(path: Path, result: subprocess.CompletedProcess[str]) -> Verdict:
    if result.returncode == 3:
        return Verdict(True)
    match = REFERENCE_ERROR.search(result.stderr)
    if result.returncode != 2 or match is None:
        raise AssertionError(f"{path.name}: reference exit {result.returncode}: {result.stderr}")
    return Verdict(False, int(match.group(1) or 0), normalise(match.group(2)))


OUR_ERROR = re.compile(r"^(.*?):(\d+): error: (.*?)(?: \(hint: .*\))?$", re.M)


def _our_verdict(name: str, code: int, stderr: str) -> Verdict:
    if code == 0:
        return Verdict(True)
    match = OUR_ERROR.search(stderr)
    if code != 1 or match is None:
        raise AssertionError(f"{name}: pyldirectord exit {code}: {stderr}")
    return Verdict(False, int(match.group(2)), match.group(3))


def our_verdict(path: Path) -> Verdict:
    result = _run([sys.executable, "-m", "pyldirectord", "--check-config", str(path)],
                  private_log=False)  # fmt: skip
    return _our_verdict(path.name, result.returncode, result.stderr)


# One interpreter runs `pyldirectord --check-config PATH` (cli.main) for every path, each
# with its own stdout/stderr and cwd: the command line's code path without 100 interpreter
# start-ups on a shared two-core machine.
_BATCH = """
import contextlib, io, json, os, sys, tempfile
from pyldirectord.cli.main import main
for path in sys.argv[1:]:
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory() as cwd:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--check-config", path])
        os.chdir("/")
    print(json.dumps([path, code, err.getvalue()]))
"""


def our_verdicts(paths: list[Path]) -> dict[Path, Verdict]:
    result = _run([sys.executable, "-c", _BATCH, *map(str, paths)], private_log=False)
    if result.returncode != 0:
        raise AssertionError(f"pyldirectord batch failed: {result.stderr}")
    found: dict[Path, Verdict] = {}
    for line in result.stdout.splitlines():
        path, code, stderr = json.loads(line)
        found[Path(path)] = _our_verdict(Path(path).name, code, stderr)
    return found


_STATUS_BATCH = """
import contextlib, io, json, os, sys, tempfile
from pyldirectord.cli.main import main
for path in sys.argv[1:]:
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory() as cwd:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([path, "status"])
        os.chdir("/")
    print(json.dumps([path, code, out.getvalue(), err.getvalue()]))
"""

PID = re.compile(r"^(Error|Warning) \[\d+\]", re.M)


def without_pids(text: str) -> str:
    return PID.sub(r"\1 [PID]", text)


def our_status(paths: list[Path]) -> dict[Path, tuple[int, str, str]]:
    """``pyldirectord CONFIG status`` for every path, in one interpreter (see _BATCH)."""
    result = _run([sys.executable, "-c", _STATUS_BATCH, *map(str, paths)], private_log=True)
    if result.returncode != 0:
        raise AssertionError(f"pyldirectord status batch failed: {result.stderr}")
    found: dict[Path, tuple[int, str, str]] = {}
    for line in result.stdout.splitlines():
        path, code, out, err = json.loads(line)
        found[Path(path)] = (code, out, without_pids(err))
    return found


def reference_statuses(paths: list[Path]) -> dict[Path, tuple[int, str, str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(reference_status, paths)
        return {path: (r.returncode, r.stdout, without_pids(r.stderr))
                for path, r in zip(paths, results, strict=True)}  # fmt: skip


def verdicts(paths: Iterable[Path], *, reference: bool) -> dict[Path, Verdict]:
    """Verdicts for many configs; the reference's a few processes at a time (two shared
    cores), ours in one batch."""
    paths = list(paths)
    if not reference:
        return our_verdicts(paths)
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(paths, pool.map(reference_verdict, paths), strict=True))
