"""--check-config: output format, exit codes, warnings, JSON, config file search."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from pyldirectord.cli import checkconfig
from pyldirectord.cli.checkconfig import Environment, environment_warnings, find_config
from pyldirectord.cli.lifecycle import EXIT_USAGE
from pyldirectord.cli.main import main
from pyldirectord.config.parser import parse
from pyldirectord.runtime.preflight import HostFacts

GOOD = "virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\tchecktype=connect\n"


def write(tmp_path: Path, text: str, name: str = "ld.cf", mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return path


def test_valid_config_prints_a_summary_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD + "\nvirtual=127.0.0.1:443\n\treal=127.0.0.2:443 gate\n")
    assert main(["--check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert out == (f"{path}: configuration OK: 2 virtual services, 2 real servers, "
                   "checks: connect x1, negotiate:https x1\n")  # fmt: skip


def test_invalid_config_is_file_line_error_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD + "\tchecktype=bogus\n")
    assert main(["--check-config", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"{path}:4: error: checktype must be ")


def test_unknown_command_is_shown_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "bogus=1\n")
    assert main(["--check-config", str(path)]) == 1
    assert capsys.readouterr().err == f"{path}:1: error: Unknown command bogus=1\n"


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope.cf")
    assert main(["--check-config", missing]) == 1
    assert capsys.readouterr().err == f"{missing}:0: error: Config file {missing} not found\n"


def test_default_config_name_and_search_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, GOOD, name="ldirectord.cf")
    if not os.path.isfile("/etc/ha.d/ldirectord.cf") and not os.path.isfile(
        "/etc/ha.d/conf/ldirectord.cf"
    ):
        assert find_config("ldirectord.cf") == "ldirectord.cf"
        assert main(["--check-config"]) == 0
        assert capsys.readouterr().out.startswith("ldirectord.cf: configuration OK")
    probed: list[str] = []

    def isfile(candidate: str) -> bool:
        probed.append(candidate)
        return False

    monkeypatch.setattr(os.path, "isfile", isfile)
    assert find_config("/abs/x.cf") is None
    assert probed == ["/etc/ha.d//abs/x.cf", "/etc/ha.d/conf//abs/x.cf", "/abs/x.cf"]


def test_usage_errors_fall_back_to_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check-config", "a.cf", "b.cf"]) == EXIT_USAGE
    assert main(["--check-config", "--bogus"]) == EXIT_USAGE


def test_warnings_never_change_the_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "checkcount=2\nfork=yes\nrisecount=2\n" + GOOD
                 + "\tchecktype=connect2\n\treal=127.0.0.3:80 gate 1 u:9 l:2\n")  # fmt: skip
    assert main(["--check-config", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"{path}:1: warning: checkcount option is deprecated" in err
    assert f"{path}:2: warning: fork=yes" in err
    assert f"{path}:3: warning: risecount is a pyldirectord extension, not understood by the " \
           "Perl ldirectord" in err
    assert f"{path}:7: warning: checktype=connect2 contains a digit" in err
    assert f'{path}:8: warning: "u:9" before the l: is silently ignored' in err


def test_extension_in_a_block_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD + "\trisecount=2\n")
    assert main(["--check-config", str(path)]) == 0
    assert f"{path}:4: warning: risecount is a pyldirectord extension" in capsys.readouterr().err


ENV_OK = Environment(world_readable=False, host=HostFacts(
    expire_quiescent_template=1, ip_forward=1, gc_thresh3=1024))  # fmt: skip


def test_environment_warnings() -> None:
    text = ("quiescent=yes\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 masq\n\tpersistent=60\n"
            '\tpasswd="x"\n\tservice=mysql\n')  # fmt: skip
    config = parse(text, "x.cf", hostname="h")
    assert environment_warnings(config, ENV_OK) == []
    bad = Environment(world_readable=True, host=HostFacts(
        expire_quiescent_template=None, ip_forward=0, gc_thresh3=0))  # fmt: skip
    messages = {(w.line, w.message.split(":")[0].split(",")[0]) for w in
                environment_warnings(config, bad)}  # fmt: skip
    assert messages == {
        (2, "the config holds a passwd and is world-readable"),
        (2, "quiescent=yes with persistence"),
        (3, "masq forwarding needs routing"),
        (0, "1 real servers exceed the neighbour table (net.ipv4.neigh.default.gc_thresh3 = 0) "
            "if they share a link"),
    }


def test_world_readable_passwd_is_read_from_the_file_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD + '\tpasswd="secret"\n', mode=0o644)
    assert main(["--check-config", str(path)]) == 0
    assert "world-readable" in capsys.readouterr().err
    path.chmod(0o600)
    assert main(["--check-config", str(path)]) == 0
    assert "world-readable" not in capsys.readouterr().err


def test_json_output(tmp_path: Path) -> None:
    path = write(tmp_path, "emailalertstatus=running,starting\n" + GOOD)
    out = io.StringIO()
    assert checkconfig.check(str(path), as_json=True, out=out, err=io.StringIO()) == 0
    document = json.loads(out.getvalue())
    assert document["valid"] is True and document["error"] is None
    assert document["config"]["resolved"] is True
    assert document["config"]["globals"]["emailalertstatus"] == ["running", "starting"]
    real = document["config"]["virtuals"][0]["reals"][0]
    assert (real["host"], real["port"], real["forward"]) == ("127.0.0.2", 80, "gate")


def test_json_output_of_an_invalid_config(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "\tquiescent=maybe\n")
    out = io.StringIO()
    assert checkconfig.check(str(path), as_json=True, out=out, err=io.StringIO()) == 1
    document = json.loads(out.getvalue())
    assert document["valid"] is False and document["config"] is None
    assert document["error"] == {"file": str(path), "line": 4,
                                 "message": "quiescent must be 'yes' or 'no'"}  # fmt: skip


def test_check_config_does_not_create_files(tmp_path: Path) -> None:
    log = tmp_path / "mon.log"
    path = write(tmp_path, GOOD + f"\tmonitorfile={log}\n" + f'logfile="{tmp_path}/ld.log"\n')
    assert checkconfig.check(str(path), as_json=False, out=io.StringIO(),
                             err=io.StringIO()) == 0  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ld.cf"]
