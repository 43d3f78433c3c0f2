"""Kamailio for the sip check: UDP and TCP on one port of 127.0.0.1.

It answers OPTIONS for the user ``health`` with ``200 OK`` and any other user with ``404``
(the "wrong answer" case), statelessly (the sl module).
"""

from __future__ import annotations

import glob
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from daemons import Daemon, free_port, require

KAMAILIO = "/usr/sbin/kamailio"

HEALTHY = "health@sip.test"


@dataclass(frozen=True)
class Sip:
    daemon: Daemon
    port: int  # UDP and TCP


def modules() -> str:
    """Kamailio's module directory (under the multiarch triplet of this machine)."""
    found = sorted(glob.glob("/usr/lib/*/kamailio/modules/sl.so"))
    if not found:
        pytest.fail("Kamailio's modules are not installed: run `make apt`")
    return str(Path(found[0]).parent)


def config(port: int) -> str:
    return f"""#!KAMAILIO
debug=1
log_stderror=yes
children=1
tcp_children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
mpath="{modules()}/"
loadmodule "sl.so"
loadmodule "pv.so"
request_route {{
    if (method == "OPTIONS") {{
        if ($rU == "health") {{
            sl_send_reply("200", "OK");
            exit;
        }}
        sl_send_reply("404", "Not Found");
        exit;
    }}
    sl_send_reply("405", "Method Not Allowed");
}}
"""


@pytest.fixture(scope="session", name="kamailio")
def kamailio_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sip]:
    require(KAMAILIO)
    base: Path = tmp_path_factory.mktemp("kamailio")
    port = free_port(socket.SOCK_STREAM)
    (base / "kamailio.cfg").write_text(config(port))
    daemon = Daemon("kamailio", [KAMAILIO, "-DD", "-E", "-f", str(base / "kamailio.cfg"),
                                 "-P", str(base / "kamailio.pid"), "-Y", str(base)],
                    base / "stdout.log", port)  # fmt: skip
    daemon.start()
    try:
        yield Sip(daemon, port)
    finally:
        daemon.stop()
        shutil.rmtree(base, ignore_errors=True)
