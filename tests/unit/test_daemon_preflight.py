"""`start` loads ip_vs as ipvsadm does, and says why the director cannot run, before the
daemon reports ready. modprobe is a real program here, a script standing in for the system's
(the host's kernel must never get modules from a unit test); the sandbox's kernel test
(tests/kernel/test_operator_habits.py) runs the real one."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyldirectord.core.ipvsops import IpvsUnavailable
from pyldirectord.kernel import kmod
from pyldirectord.runtime import daemon


def fake_modprobe(tmp_path: Path, body: str) -> kmod.Modprobe:
    """A modprobe whose calls are appended to ``calls`` and which then runs ``body``."""
    script = tmp_path / "modprobe"
    script.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "calls"}\n{body}\n')
    script.chmod(0o755)
    return kmod.Modprobe(program=str(script))


def test_missing_ip_vs_that_cannot_load_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(daemon, "IPVS_PROC", str(tmp_path / "ip_vs"))
    failing = (
        "echo 'modprobe: FATAL: Module ip_vs not found in directory /lib/modules/x' >&2; exit 1"
    )
    monkeypatch.setattr(daemon, "MODPROBE", fake_modprobe(tmp_path, failing))
    with pytest.raises(IpvsUnavailable) as error:
        daemon.make_director(None)  # type: ignore[arg-type]  # fails before reading it
    assert str(error.value) == (
        "IPVS is not available: the ip_vs kernel module is not loaded and `modprobe ip_vs` "
        "failed: modprobe: FATAL: Module ip_vs not found in directory /lib/modules/x"
    )
    assert (tmp_path / "calls").read_text() == "-- ip_vs\n"


def test_missing_modprobe_is_named(tmp_path: Path) -> None:
    with pytest.raises(kmod.ModuleLoadError, match=r"cannot run .*nothing-here"):
        kmod.ensure_ip_vs(kmod.Modprobe(program=str(tmp_path / "nothing-here")),
                          str(tmp_path / "ip_vs"))  # fmt: skip


def test_ip_vs_loaded_by_modprobe_is_used(tmp_path: Path) -> None:
    proc = tmp_path / "ip_vs"
    kmod.ensure_ip_vs(fake_modprobe(tmp_path, f"touch {proc}"), str(proc))
    assert (tmp_path / "calls").read_text() == "-- ip_vs\n"


def test_loaded_ip_vs_needs_no_modprobe(tmp_path: Path) -> None:
    proc = tmp_path / "ip_vs"
    proc.touch()
    kmod.ensure_ip_vs(fake_modprobe(tmp_path, "exit 1"), str(proc))
    assert not (tmp_path / "calls").exists()


def test_schedulers_not_loaded_yet_are_loaded_once(tmp_path: Path) -> None:
    sys_module = tmp_path / "module"
    (sys_module / "ip_vs_rr").mkdir(parents=True)
    modprobe = fake_modprobe(tmp_path, "exit 0")
    assert kmod.load_schedulers(modprobe, ["rr", "wlc", "sh", "wlc"], str(sys_module)) is None
    assert (tmp_path / "calls").read_text() == "-a -- ip_vs_wlc ip_vs_sh\n"


def test_a_scheduler_that_cannot_load_is_a_warning_naming_it(tmp_path: Path) -> None:
    failing = "echo 'modprobe: FATAL: Module ip_vs_nosuch not found' >&2; exit 1"
    modprobe = fake_modprobe(tmp_path, failing)
    warning = kmod.load_schedulers(modprobe, ["nosuch"], str(tmp_path))
    assert warning == (
        "cannot load IPVS scheduler module ip_vs_nosuch: modprobe: FATAL: Module ip_vs_nosuch "
        "not found"
    )
