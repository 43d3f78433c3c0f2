"""--check-config compiles every receive pattern a negotiate check will use, with Perl syntax,
and reports a bad one at its line; the same pass makes `start` and a reload refuse it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyldirectord.cli.main import main
from pyldirectord.config.errors import ConfigError
from pyldirectord.config.resolve import load

BLOCK = "virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\tservice=http\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ld.cf"
    path.write_text(text)
    return path


def test_perl_only_syntax_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = BLOCK + '\treceive="^[[:alpha:]]+ \\x{41}(?<n>x)\\k<n>a++"\n'
    assert main(["--check-config", str(write(tmp_path, text))]) == 0
    assert "configuration OK" in capsys.readouterr().out


def test_bad_block_pattern_is_reported_at_its_receive_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The last receive= of the block is the one that counts: it is the line reported.
    text = BLOCK + '\treceive="fine"\n\t# a comment\n\treceive="(unclosed"\n'
    path = write(tmp_path, text)
    assert main(["--check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == f"{path}:6: error: invalid receive regex '(unclosed': missing ) at position 9\n"


def test_bad_per_real_pattern_is_reported_at_the_real_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n"
        '\treal=127.0.0.3:80 gate "/health", "[[:nonsense:]]"\n\tservice=http\n'
    )
    path = write(tmp_path, text)
    assert main(["--check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:3: error: invalid receive regex '[[:nonsense:]]': ")


def test_the_first_bad_pattern_in_file_order_wins(tmp_path: Path) -> None:
    text = (
        BLOCK + '\treceive="(a"\n\n'
        "virtual=127.0.0.1:81\n"
        '\treal=127.0.0.2:80 gate "/x", "(b"\n\tservice=http\n'
    )
    with pytest.raises(ConfigError) as caught:
        load(str(write(tmp_path, text)))
    assert (caught.value.line, caught.value.message.split(":")[0]) == (
        4,
        "invalid receive regex '(a'",
    )


def test_a_pattern_no_check_uses_is_not_compiled(tmp_path: Path) -> None:
    """As in the reference: a connect check never looks at receive."""
    text = "virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\tchecktype=connect\n"
    config = load(str(write(tmp_path, text + '\treceive="(a"\n')))
    assert config.virtuals[0].receive == "(a"
