"""A check that cannot run as configured makes the config invalid, at its line (issue 13).

Before, such services were checked by a TCP connect (or a ping on UDP) and the config was
"OK"; now every reference service has its own check, and oracle (no client) is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pyldirectord.cli.main import main
from pyldirectord.config.errors import ConfigError
from pyldirectord.runtime.configload import load

ORACLE_ERROR = "service=oracle is not supported by pyldirectord (it has no Oracle client)"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ld.cf"
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_service_oracle_is_refused_at_its_service_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "virtual=127.0.0.1:9000\n\treal=127.0.0.2:9000 gate\n"
                 "\tservice=oracle\n\tlogin=\"scott\"\n")  # fmt: skip
    assert main(["--check-config", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"{path}:3: error: {ORACLE_ERROR}; check this virtual with")


def test_oracle_from_port_1521_is_refused_at_the_virtual_line(tmp_path: Path) -> None:
    path = write(tmp_path, "checktimeout=3\nvirtual=127.0.0.1:1521\n\treal=127.0.0.2:1521 gate\n")
    with pytest.raises(ConfigError) as caught:
        load(str(path))
    assert (caught.value.line, caught.value.message.startswith(ORACLE_ERROR)) == (2, True)


@pytest.mark.parametrize("checktype", ["connect", "ping", "on", "off", "external"])
def test_port_1521_with_a_check_that_runs_is_valid(tmp_path: Path, checktype: str) -> None:
    path = write(tmp_path, f"virtual=127.0.0.1:1521\n\treal=127.0.0.2:1521 gate\n"
                 f"\tchecktype={checktype}\n")  # fmt: skip
    assert load(str(path)).virtuals[0].checktype == checktype


def test_combined_checks_are_refused_too(tmp_path: Path) -> None:
    path = write(tmp_path, "virtual=127.0.0.1:1521\n\treal=127.0.0.2:1521 gate\n"
                 "\tchecktype=3\n")  # fmt: skip
    with pytest.raises(ConfigError, match="service=oracle"):
        load(str(path))


def test_every_other_reference_service_is_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    services = ["ftp", "pop", "pops", "imap", "imaps", "ldap", "ldaps", "pgsql", "mysql", "sip",
                "radius", "simpletcp", "dns", "nntp", "smtp", "submission", "http", "none"]
    blocks = [f"virtual=127.0.0.1:{9000 + i}\n\treal=127.0.0.2:{9000 + i} gate\n"
              f"\tservice={service}\n" for i, service in enumerate(services)]  # fmt: skip
    blocks += ["virtual=127.0.0.1:9999\n\treal=127.0.0.2:9999 gate\n\tprotocol=udp\n"
               "\tservice=simpletcp\n\treceive=\"ok\"\n"]  # fmt: skip
    path = write(tmp_path, "\n".join(blocks))
    assert main(["--check-config", str(path)]) == 0
    assert "configuration OK: 19 virtual services" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("lines", "warning"),
    [
        ('\tservice=pgsql\n\trequest="SELECT 1"\n',
         "3: warning: service=pgsql needs login and request: every real of this virtual stays "
         "down"),
        ('\tservice=mysql\n\tlogin="u"\n', "3: warning: service=mysql needs login and request"),
        ('\tservice=radius\n\tlogin="u"\n',
         "3: warning: service=radius without secret: a RADIUS server ignores the unsigned "
         "requests"),
    ],
)  # fmt: skip
def test_checks_that_keep_every_real_down_are_warned_with_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: str, warning: str
) -> None:
    """The reference accepts these (and keeps the reals down): valid, with a warning."""
    path = write(tmp_path, "virtual=127.0.0.1:9000\n\treal=127.0.0.2:9000 gate\n" + lines)
    assert main(["--check-config", str(path)]) == 0
    assert f"{path}:{warning}" in capsys.readouterr().err


def test_complete_sql_and_radius_settings_are_not_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "virtual=127.0.0.1:9000\n\treal=127.0.0.2:9000 gate\n"
                 '\tservice=pgsql\n\tlogin="u"\n\trequest="SELECT 1"\n\n'
                 "virtual=127.0.0.1:9001\n\treal=127.0.0.2:9001 gate\n"
                 '\tservice=radius\n\tsecret="s"\n')  # fmt: skip
    assert main(["--check-config", str(path)]) == 0
    assert "warning" not in capsys.readouterr().err
