"""systemd notify: the watchdog's verdict (pure) and what is read from the environment."""

from __future__ import annotations

import socket
from pathlib import Path

from pyldirectord.notify.sdnotify import SystemdNotifier, judge


def test_no_check_overdue_is_healthy_even_without_progress() -> None:
    # a long checkinterval: nothing ended since the last ping, nothing late either
    assert judge(5, 5, overdue=0, overloaded=False).healthy


def test_an_overdue_check_stops_the_pings_unless_an_overloaded_director_still_progresses() -> None:
    stalled = judge(5, 9, overdue=1, overloaded=False)
    assert not stalled.healthy
    assert stalled.status == "checks stalled: 1 checks overdue by more than an interval"
    assert judge(5, 9, overdue=300, overloaded=True).healthy
    assert not judge(9, 9, overdue=300, overloaded=True).healthy


def test_the_environment_is_read_once_and_cleared_for_children(tmp_path: Path) -> None:
    environ = {"NOTIFY_SOCKET": str(tmp_path / "n"), "WATCHDOG_USEC": "30000000",
               "WATCHDOG_PID": "1", "PATH": "/bin"}  # fmt: skip
    notifier = SystemdNotifier.from_environ(environ)
    assert notifier is not None and notifier.watchdog == 30.0
    assert environ == {"PATH": "/bin"}
    notifier.close()
    assert SystemdNotifier.from_environ({}) is None
    assert SystemdNotifier.from_environ({"NOTIFY_SOCKET": "relative"}) is None
    plain = SystemdNotifier.from_environ({"NOTIFY_SOCKET": "@abstract", "WATCHDOG_USEC": "0"})
    assert plain is not None and plain.watchdog is None
    plain.close()


def test_a_message_is_one_datagram_and_a_missing_socket_is_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(path))
        notifier = SystemdNotifier(str(path), None)
        assert notifier.send("READY=1", "STATUS=checks running")
        assert systemd.recv(4096) == b"READY=1\nSTATUS=checks running"
    path.unlink()
    assert not notifier.send("WATCHDOG=1")
    notifier.close()
