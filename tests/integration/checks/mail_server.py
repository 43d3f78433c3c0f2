"""Dovecot for the pop, pops, imap and imaps checks: one instance, four listeners on 127.0.0.1.

One user (``checker``/``s3cret``) from a passwd-file; TLS with a trustme certificate for
127.0.0.1. Dovecot drops privileges (its login and auth processes run as dovenull and
dovecot), so its directory lives outside pytest's root-only temp tree.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from daemons import Daemon, free_port, require

DOVECOT = "/usr/sbin/dovecot"
LOGIN, PASSWD = "checker", "s3cret"


@dataclass(frozen=True)
class Mail:
    daemon: Daemon
    pop3: int
    pop3s: int
    imap: int
    imaps: int


def config(base: Path, ports: dict[str, int]) -> str:
    return f"""
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{base}/cert.pem
ssl_key = <{base}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
# No delay after a failed login (the tests fail logins on purpose).
auth_failure_delay = 0
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={base}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {ports["imap"]}
  }}
  inet_listener imaps {{
    port = {ports["imaps"]}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {ports["pop3"]}
  }}
  inet_listener pop3s {{
    port = {ports["pop3s"]}
    ssl = yes
  }}
}}
# No growing per-address penalty after failed logins either (Dovecot's documented switch).
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0600
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@pytest.fixture(scope="session", name="dovecot")
def dovecot_fixture() -> Iterator[Mail]:
    require(DOVECOT)
    base = Path(tempfile.mkdtemp(prefix="pyldirectord-dovecot-"))
    try:
        base.chmod(0o755)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        cert.private_key_pem.write_to_path(str(base / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(base / "cert.pem"))
        (base / "passwd").write_text(f"{LOGIN}:{{PLAIN}}{PASSWD}\n")
        home = base / "home" / LOGIN
        home.mkdir(parents=True)
        shutil.chown(home, "nobody", "nogroup")
        ports = {name: free_port() for name in ("pop3", "pop3s", "imap", "imaps")}
        (base / "dovecot.conf").write_text(config(base, ports))
        daemon = Daemon("dovecot", [DOVECOT, "-F", "-c", str(base / "dovecot.conf")],
                        base / "stdout.log", ports["imaps"])  # fmt: skip
        daemon.start()
        try:
            yield Mail(daemon, ports["pop3"], ports["pop3s"], ports["imap"], ports["imaps"])
        finally:
            daemon.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
