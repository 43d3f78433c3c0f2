"""Loads the IPVS kernel modules the config needs, as ipvsadm does (edge).

The reference never loads a module itself: every table change runs ipvsadm, and ipvsadm runs
``/sbin/modprobe -- ip_vs`` when the kernel has no IPVS netlink family yet, then tries again.
We speak netlink directly, so ``start`` does the same before the director is built: if
``/proc/net/ip_vs`` is missing, ``modprobe ip_vs``; if it is still missing, the error says so
with modprobe's own words. The kernel loads a scheduler's module by itself when a service
names it, but only through its own usermode helper; loading the configured ones here as well
makes a missing scheduler a clear line at start instead of a refused service at every pass.

``modprobe`` is the one on ``PATH`` (then ipvsadm's ``/sbin/modprobe``): plain, no module
directory of ours. The test sandbox puts a ``modprobe`` that knows its kernel's modules first
on ``PATH`` (tools/uml-run), so production and tests run the same code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

IPVS_PROC = "/proc/net/ip_vs"  # present exactly when the ip_vs module is loaded (or built in)
SYS_MODULE = "/sys/module"
# modprobe answers in milliseconds; the bound only keeps a hung one from eating the
# 30 s that `start` waits for the daemon (lifecycle.READY_TIMEOUT): two calls at
# most, ip_vs and then every scheduler together.
MODPROBE_TIMEOUT = 10.0
FALLBACK_PATH = "/usr/sbin:/sbin"


class ModuleLoadError(Exception):
    """The module cannot be loaded; the text says which, and modprobe's reason."""


@dataclass(frozen=True, slots=True)
class Modprobe:
    """Runs ``modprobe`` for some modules; ``program`` None finds it on PATH when called."""

    program: str | None = None
    timeout: float = MODPROBE_TIMEOUT

    def command(self) -> str | None:
        if self.program is not None:
            return self.program
        path = os.environ.get("PATH", "")
        return shutil.which("modprobe", path=f"{path}:{FALLBACK_PATH}" if path else FALLBACK_PATH)

    @staticmethod
    def arguments(names: Iterable[str]) -> list[str]:
        """``-- ip_vs`` for one module, as an operator (and ipvsadm) types it, so the error
        is the one they know; ``-a -- A B`` for several."""
        listed = list(names)
        return ["-a", "--", *listed] if len(listed) > 1 else ["--", *listed]

    def __call__(self, names: Iterable[str]) -> str | None:
        """None when modprobe loaded every module, else why not (its stderr, in one line)."""
        program = self.command()
        if program is None:
            return "modprobe not found (install kmod)"
        try:
            done = subprocess.run([program, *self.arguments(names)], capture_output=True,
                                  text=True, timeout=self.timeout, check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            return f"modprobe did not finish within {self.timeout:g} s"
        except OSError as error:
            return f"cannot run {program}: {error.strerror}"
        if done.returncode == 0:
            return None
        why = " ".join(line.strip() for line in done.stderr.splitlines() if line.strip())
        return why or f"modprobe exited with status {done.returncode}"


def scheduler_modules(schedulers: Iterable[str]) -> list[str]:
    """The module of each scheduler, once, in order: ``wlc`` -> ``ip_vs_wlc``."""
    return [f"ip_vs_{name}" for name in dict.fromkeys(schedulers) if name]


def ensure_ip_vs(modprobe: Modprobe, proc: str = IPVS_PROC) -> None:
    """ip_vs loaded, loading it when missing; raises ModuleLoadError when it cannot be."""
    if os.path.exists(proc):
        return
    why = modprobe(["ip_vs"])
    if os.path.exists(proc):
        return
    raise ModuleLoadError(
        "IPVS is not available: the ip_vs kernel module is not loaded and `modprobe ip_vs` "
        f"failed: {why or 'the module loaded but IPVS did not appear'}"
    )


def load_schedulers(
    modprobe: Modprobe, schedulers: Iterable[str], sys_module: str = SYS_MODULE
) -> str | None:
    """Load the scheduler modules not loaded yet; None, or a warning for the log.

    A scheduler built into the kernel has no module to load, so a failure here is a warning:
    if the kernel really lacks it, adding the service fails with its own clear error.
    """
    missing = [name for name in scheduler_modules(schedulers)
               if not os.path.isdir(os.path.join(sys_module, name))]  # fmt: skip
    if not missing:
        return None
    why = modprobe(missing)
    if why is None:
        return None
    return f"cannot load IPVS scheduler module {', '.join(missing)}: {why}"
