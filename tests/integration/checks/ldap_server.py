"""slapd for the ldap and ldaps checks: an mdb database with two entries, on 127.0.0.1.

Anonymous reads are allowed (slapd's default); the root DN binds with ``ROOT_PASSWD``. LDAPS
uses a trustme certificate for 127.0.0.1.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import trustme
from daemons import Daemon, free_port, require, run

SLAPD, SLAPADD = "/usr/sbin/slapd", "/usr/sbin/slapadd"
SUFFIX = "dc=example,dc=org"
ROOT_DN, ROOT_PASSWD = f"cn=admin,{SUFFIX}", "s3cret"
HEALTH_DN = f"cn=health,{SUFFIX}"

ENTRIES = f"""\
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: {HEALTH_DN}
objectClass: organizationalRole
cn: health
"""


@dataclass(frozen=True)
class Ldap:
    daemon: Daemon
    ldap: int
    ldaps: int


@pytest.fixture(scope="session", name="slapd")
def slapd_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ldap]:
    require(SLAPD, SLAPADD)
    base = tmp_path_factory.mktemp("slapd")
    (base / "db").mkdir()
    cert = trustme.CA().issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(base / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(base / "cert.pem"))
    conf = base / "slapd.conf"
    conf.write_text(
        "include /etc/ldap/schema/core.schema\n"
        f"pidfile {base}/slapd.pid\nargsfile {base}/slapd.args\n"
        "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
        f"TLSCertificateFile {base}/cert.pem\nTLSCertificateKeyFile {base}/key.pem\n"
        f'database mdb\nmaxsize 10485760\nsuffix "{SUFFIX}"\nrootdn "{ROOT_DN}"\n'
        f"rootpw {ROOT_PASSWD}\ndirectory {base}/db\n"
    )
    (base / "entries.ldif").write_text(ENTRIES)
    run([SLAPADD, "-f", str(conf), "-l", str(base / "entries.ldif")])
    ports = free_port(), free_port()
    urls = f"ldap://127.0.0.1:{ports[0]}/ ldaps://127.0.0.1:{ports[1]}/"
    daemon = Daemon("slapd", [SLAPD, "-d", "0", "-h", urls, "-f", str(conf)],
                    base / "stdout.log", ports[1])  # fmt: skip
    daemon.start()
    try:
        yield Ldap(daemon, *ports)
    finally:
        daemon.stop()
        shutil.rmtree(base, ignore_errors=True)
