"""Every corpus config gets the verdict and line recorded in its header (from the reference)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from reference_runner import OUR_ERROR, corpus, expected, normalise

from pyldirectord.cli import checkconfig


@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.name)
def test_corpus_verdict(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    want = expected(path)
    assert want is not None, "record it with tools/corpus-record"
    monkeypatch.chdir(tmp_path)  # relative monitorfiles resolve here, as for the reference
    out, err = io.StringIO(), io.StringIO()
    code = checkconfig.check(str(path), as_json=False, out=out, err=err)
    if want.valid:
        assert code == 0, err.getvalue()
        assert out.getvalue().startswith(f"{path}: configuration OK")
        return
    assert code == 1
    match = OUR_ERROR.match(err.getvalue().splitlines()[0])
    assert match is not None, err.getvalue()
    assert (match.group(1), int(match.group(2))) == (str(path), want.line)
    assert normalise(match.group(3)) == want.message


def test_corpus_is_large_and_mixed() -> None:
    verdicts = [expected(path) for path in corpus()]
    assert len(verdicts) >= 40
    assert sum(1 for v in verdicts if v and v.valid) >= 15
    assert sum(1 for v in verdicts if v and not v.valid) >= 15
    assert os.path.isdir(Path(__file__).parents[1] / "corpus")


WARNED_QUIRKS = ("quirk09-", "quirk10-", "quirk11-", "quirk36-")


@pytest.mark.parametrize(
    "path", [p for p in corpus() if p.name[4:].startswith(WARNED_QUIRKS)], ids=lambda p: p.name
)
def test_kept_quirks_are_warned(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spec 8 #9, #10, #11 and #36 parse as the reference parses them, with a warning."""
    monkeypatch.chdir(tmp_path)
    err = io.StringIO()
    assert checkconfig.check(str(path), as_json=False, out=io.StringIO(), err=err) == 0
    assert f"{path}:" in err.getvalue() and ": warning: " in err.getvalue()
