"""`status`, `stop` and `reload` are what cluster managers call every few seconds: the CLI
must not import the daemon's netlink, HTTP, SMTP and watchdog stacks to answer them (in the
sandbox kernel that halves the cost of every call)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pyldirectord.cli.pidfile import RUNDIR_ENV

HEAVY = ("pyldirectord.runtime.daemon", "pyldirectord.kernel.ipvs", "pyroute2", "aiohttp",
         "aiosmtplib", "watchdog")  # fmt: skip


def test_status_imports_no_daemon_stack(tmp_path: Path) -> None:
    config = tmp_path / "light.cf"
    config.write_text(f'logfile="{tmp_path / "log"}"\nvirtual=127.0.0.1:80\n'
                      "\treal=127.0.0.2:80 gate\n")  # fmt: skip
    probe = (
        "import sys\n"
        "from pyldirectord.cli import main as cli\n"
        f"code = cli.main([{str(config)!r}, 'status'])\n"
        f"print(code, [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    env = dict(os.environ, **{RUNDIR_ENV: str(tmp_path)})
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True, cwd="/", env=env)  # fmt: skip
    assert done.stdout.splitlines()[-1] == "3 []", done.stdout + done.stderr
