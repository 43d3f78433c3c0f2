"""checks/ sits at the top of the checkout and is one package, ``pyldirectord.checks``: a second
copy imported as plain ``checks`` would have its own classes (a ``CheckResult`` that is not the
director's), so that name must fail wherever the checkout root is on sys.path."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import pyldirectord.checks.base

ROOT = Path(__file__).resolve().parents[2]


def test_checks_is_the_top_level_directory() -> None:
    assert Path(pyldirectord.checks.base.__file__).resolve() == ROOT / "checks" / "base.py"


def test_plain_checks_does_not_import_under_pytest() -> None:
    assert str(ROOT) in [str(Path(entry).resolve()) for entry in sys.path if entry]
    with pytest.raises(ImportError, match=r"import pyldirectord\.checks"):
        importlib.import_module("checks")
    assert "checks" not in sys.modules


def test_plain_checks_does_not_import_from_the_checkout_root() -> None:
    # `python -c` and `python -m` put the current directory first on sys.path.
    probe = "import checks.base"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)  # fmt: skip
    assert done.returncode == 1
    assert "ImportError: 'checks': import pyldirectord.checks" in done.stderr, done.stderr
