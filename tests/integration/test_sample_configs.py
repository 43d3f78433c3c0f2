"""Every shipped sample config, and the Debian example, passes --check-config."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pyldirectord.cli import checkconfig

REPO = Path(__file__).resolve().parents[2]
SAMPLES = sorted((REPO / "sample-configs").glob("*.cf"))
# CI lays the shared directory beside the repository.
DEBIAN_EXAMPLE = REPO.parent / "shared" / "configs" / "debian-example.cf"


def test_there_are_enough_samples() -> None:
    assert len(SAMPLES) >= 8
    text = "".join(path.read_text() for path in SAMPLES)
    for needle in ("service=http\n", "service=https", "service=mysql", "checktype=connect",
                   "checktype=ping", "virtual=1\n", "virtual6=", "fallback=", "emailalert="):
        assert needle in text, needle


@pytest.mark.parametrize("path", [*SAMPLES, DEBIAN_EXAMPLE], ids=lambda p: p.name)
def test_sample_passes_check_config(path: Path) -> None:
    assert path.is_file(), f"missing {path}"
    out, err = io.StringIO(), io.StringIO()
    assert checkconfig.check(str(path), as_json=False, out=out, err=err) == 0, err.getvalue()
    assert "configuration OK" in out.getvalue()
    assert ": error:" not in err.getvalue()
