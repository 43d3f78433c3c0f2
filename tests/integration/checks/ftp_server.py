"""vsftpd for the ftp check: anonymous read-only FTP on 127.0.0.1 from a private root."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from daemons import Daemon, free_port, require

VSFTPD = "/usr/sbin/vsftpd"
HEALTH = b"status: alive\n"


@dataclass(frozen=True)
class Ftp:
    daemon: Daemon
    port: int


@pytest.fixture(scope="session", name="vsftpd")
def vsftpd_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ftp]:
    require(VSFTPD)
    base = tmp_path_factory.mktemp("vsftpd")
    root, empty = base / "root", base / "empty"
    root.mkdir()
    empty.mkdir()
    (root / "health.txt").write_bytes(HEALTH)
    (root / "big.bin").write_bytes(b"x" * 300_000 + b"needle")
    root.chmod(0o555)  # vsftpd refuses a writable chroot
    port = free_port()
    conf = base / "vsftpd.conf"
    conf.write_text(
        "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\n"
        f"listen_port={port}\nbackground=NO\n"
        f"anonymous_enable=YES\nno_anon_password=YES\nanon_root={root}\nlocal_enable=NO\n"
        f"write_enable=NO\npasv_enable=YES\nsecure_chroot_dir={empty}\nseccomp_sandbox=NO\n"
        "isolate=NO\nisolate_network=NO\ncheck_shell=NO\nxferlog_enable=NO\n"
        f"vsftpd_log_file={base / 'vsftpd.log'}\n"
    )
    daemon = Daemon("vsftpd", [VSFTPD, str(conf)], base / "stdout.log", port)
    daemon.start()
    try:
        yield Ftp(daemon, port)
    finally:
        daemon.stop()
        root.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)
