"""logfile and monitorfile: no symlink followed, no FIFO or device opened, never a hang,
new files 0640 (issue 12). Real files, FIFOs and symlinks in a temporary directory."""

from __future__ import annotations

import io
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyldirectord.cli import checkconfig
from pyldirectord.notify.appendfile import check_append, open_append
from pyldirectord.notify.log import FileSink, Log
from pyldirectord.notify.monitor import MonitorFile

DEADLINE = 30.0  # only a hang misses it


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_file_is_created_0640(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "ldirectord.log"
    with open_append(str(path)) as stream:
        stream.write("line\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    with open_append(str(path)) as stream:
        stream.write("more\n")
    assert path.read_text() == "line\nmore\n"


def test_a_symlink_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "shadow"
    target.write_text("secret\n")
    link = tmp_path / "monitor.log"
    link.symlink_to(target)
    with pytest.raises(OSError):
        check_append(str(link))
    lines: list[str] = []
    log = Log(_ListSink(lines))
    assert not MonitorFile(str(link), log).write("a:b", "up", "-")
    assert target.read_text() == "secret\n"
    assert lines and "Error writing to monitorfile" in lines[0]


def test_devices_are_refused() -> None:
    with pytest.raises(OSError, match="device"):
        check_append("/dev/null")


def test_a_fifo_is_refused_with_or_without_a_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError):  # no reader: ENXIO at once, not a blocked open
        check_append(str(fifo))
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(OSError, match="FIFO"):
            check_append(str(fifo))
    finally:
        os.close(reader)


def test_check_config_does_not_hang_on_a_fifo_monitorfile(tmp_path: Path) -> None:
    fifo = tmp_path / "monitor.fifo"
    os.mkfifo(fifo)
    config = tmp_path / "lvs.cf"
    config.write_text(f"virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n"
                      f"\tmonitorfile={fifo}\n")  # fmt: skip
    err = io.StringIO()
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(checkconfig.check(
        str(config), as_json=False, out=io.StringIO(), err=err)), daemon=True)  # fmt: skip
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive(), "check-config hung on a FIFO"
    assert codes == [1]
    assert err.getvalue().startswith(f"{config}:3: error: unable to open monitorfile {fifo}: ")


def test_a_log_line_for_a_fifo_goes_to_the_fallback_stream(tmp_path: Path) -> None:
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    fallback = io.StringIO()
    FileSink(str(fifo), "lvs.cf", os.getpid, fallback).write("hello", 0.0)
    assert fallback.getvalue() == "hello\n"


class _ListSink:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def write(self, message: str, now: float) -> None:
        self.lines.append(message)

    def close(self) -> None:
        pass
