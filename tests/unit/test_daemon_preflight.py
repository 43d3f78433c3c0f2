"""`start` must say why the director cannot run, before the daemon reports ready."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyldirectord.core.ipvsops import IpvsUnavailable
from pyldirectord.runtime import daemon


def test_missing_ip_vs_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(daemon, "IPVS_PROC", str(tmp_path / "ip_vs"))
    with pytest.raises(IpvsUnavailable, match=r"ip_vs kernel module is not loaded.*modprobe"):
        daemon.make_director(None)  # type: ignore[arg-type]  # fails before reading it
