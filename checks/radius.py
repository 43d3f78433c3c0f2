"""service=radius: an Access-Request with login and passwd; up only on Access-Accept (spec 4.3).

pyrad in a worker thread (its client blocks). As the reference's Authen::Radius check_pwd: the
request carries User-Name, the encrypted User-Password and NAS-IP-Address (our address on the
way to the real), signed with ``secret``; it is sent once, on a connected socket, and its
reply waited for negotiatetimeout, but not much past checktimeout (the reference's alarm,
which bounds the verdict). Access-Reject, a reply signed with another secret (ignored by the
client, so: no valid reply), no reply or an ICMP port unreachable are down. A
Message-Authenticator is added (the BlastRADIUS countermeasure, CVE-2024-3596).
"""

from __future__ import annotations

import io
import socket

from pyrad import packet
from pyrad.client import Client, Timeout
from pyrad.dictionary import Dictionary

from pyldirectord.checks.base import CheckResult, CheckSpec, Outcome, Target
from pyldirectord.checks.blocking import in_thread, library_timeout

# The attributes an Access-Request of a health check needs (RFC 2865, 2869, 3162).
DICTIONARY = """\
ATTRIBUTE User-Name 1 string
ATTRIBUTE User-Password 2 string encrypt=1
ATTRIBUTE NAS-IP-Address 4 ipaddr
ATTRIBUTE Message-Authenticator 80 octets
ATTRIBUTE NAS-IPv6-Address 95 ipv6addr
"""

REPLIES = {
    packet.AccessAccept: "Access-Accept",
    packet.AccessReject: "Access-Reject",
    packet.AccessChallenge: "Access-Challenge",
}


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    return await in_thread(spec.checktimeout, lambda: exchange(target, spec))


def local_address(target: Target) -> str:
    """The address the kernel picks to reach the real (a UDP connect sends nothing)."""
    with socket.socket(target.family, socket.SOCK_DGRAM) as probe:
        probe.connect((target.ip, target.port))
        return str(probe.getsockname()[0])


class ConnectedClient(Client):  # type: ignore[misc]  # pyrad is untyped
    """pyrad's client on a connected socket, as the reference's was: an ICMP port unreachable
    (nothing listens) then ends the wait at once as ECONNREFUSED instead of a timeout."""

    def _SocketOpen(self) -> None:
        super()._SocketOpen()
        self._socket.connect((self.server, self.authport))


def exchange(target: Target, spec: CheckSpec) -> Outcome:
    timeout = library_timeout(spec.negotiatetimeout, spec.checktimeout)
    client = ConnectedClient(server=target.ip, authport=target.port, secret=spec.secret.encode(),
                    dict=Dictionary(io.StringIO(DICTIONARY)), retries=1,
                    timeout=timeout)  # fmt: skip
    request = client.CreateAuthPacket(code=packet.AccessRequest, User_Name=spec.login)
    request["User-Password"] = request.PwCrypt(spec.passwd)
    nas = local_address(target)
    request["NAS-IPv6-Address" if ":" in nas else "NAS-IP-Address"] = nas
    try:
        reply = client.SendPacket(request)
    except Timeout:
        return False, f"no valid RADIUS reply within {timeout:g}s (down, or another secret)"
    finally:
        client._CloseSocket()  # pyrad has no public close; the socket is ours to release
    name = REPLIES.get(reply.code, f"RADIUS code {reply.code}")
    return reply.code == packet.AccessAccept, name
