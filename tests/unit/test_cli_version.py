"""The first lines of -v and the usage exit code are what heartbeat scripts grep for."""

from __future__ import annotations

import pytest

from pyldirectord.cli.lifecycle import EXIT_USAGE
from pyldirectord.cli.main import main


def test_version_names_the_reference_release(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-v"]) == 0
    assert capsys.readouterr().out.startswith("Linux Director v1.186-ha")


def test_no_arguments_is_usage_with_255(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE
    assert capsys.readouterr().out.startswith("Usage:")
