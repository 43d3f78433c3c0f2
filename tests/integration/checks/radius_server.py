"""FreeRADIUS for the radius check: PAP users from a private file, one client (127.0.0.1)."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from daemons import Daemon, free_port, require

FREERADIUS = "/usr/sbin/freeradius"
LOGIN, PASSWD, SECRET = "checker", "s3cret", "testing123"


@dataclass(frozen=True)
class Radius:
    daemon: Daemon
    port: int


def config(base: Path, port: int) -> str:
    return f"""
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = {base}
raddbdir = {base}
radacctdir = {base}
name = freeradius
confdir = {base}
modconfdir = {base}
run_dir = {base}
db_dir = {base}
libdir = /usr/lib/freeradius
dictdir = /usr/share/freeradius
pidfile = {base}/radiusd.pid
max_request_time = 5
cleanup_delay = 1
max_requests = 1024
hostname_lookups = no
log {{
    destination = stdout
}}
security {{
    allow_core_dumps = no
    max_attributes = 200
    reject_delay = 0
    status_server = no
}}
client localhost {{
    ipaddr = 127.0.0.1
    secret = {SECRET}
    require_message_authenticator = yes
}}
modules {{
    pap {{
    }}
    files {{
        filename = {base}/users
    }}
}}
server default {{
    listen {{
        type = auth
        ipaddr = 127.0.0.1
        port = {port}
    }}
    authorize {{
        files
        pap
    }}
    authenticate {{
        pap
    }}
}}
"""


@pytest.fixture(scope="session", name="freeradius")
def freeradius_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radius]:
    require(FREERADIUS)
    base = tmp_path_factory.mktemp("freeradius")
    port = free_port(socket.SOCK_DGRAM)
    (base / "radiusd.conf").write_text(config(base, port))
    (base / "users").write_text(f'{LOGIN} Cleartext-Password := "{PASSWD}"\n')
    daemon = Daemon("freeradius", [FREERADIUS, "-f", "-d", str(base), "-l", "stdout"],
                    base / "stdout.log", port, ready=socket.SOCK_DGRAM)  # fmt: skip
    daemon.start()
    try:
        yield Radius(daemon, port)
    finally:
        daemon.stop()
        shutil.rmtree(base, ignore_errors=True)
