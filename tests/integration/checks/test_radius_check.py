"""radius negotiate check against a real FreeRADIUS (spec 4.3): only Access-Accept is up."""

from __future__ import annotations

import socket
from pathlib import Path

from leaks import no_leaks
from probe_config import probe_text, states
from radius_server import LOGIN, PASSWD, SECRET, Radius, freeradius_fixture  # noqa: F401

from pyldirectord.checks import radius
from pyldirectord.checks.base import CheckSpec, Target


def spec(**kwargs: object) -> CheckSpec:
    values: dict[str, object] = {
        "service": "radius", "protocol": "udp", "checktimeout": 10.0, "negotiatetimeout": 10.0,
        "login": LOGIN, "passwd": PASSWD, "secret": SECRET, **kwargs,
    }  # fmt: skip
    return CheckSpec(**values)  # type: ignore[arg-type]


async def run(freeradius: Radius, **kwargs: object) -> tuple[bool, str]:
    result = await radius.check(Target("127.0.0.1", freeradius.port), spec(**kwargs))
    return result.ok, result.reason


async def test_access_accept_is_up(freeradius: Radius) -> None:
    """FreeRADIUS is told to require a Message-Authenticator: the check sends one."""
    async with no_leaks(servers=freeradius.daemon.pids):
        assert await run(freeradius) == (True, "Access-Accept")


async def test_access_reject_is_down(freeradius: Radius) -> None:
    """Older Authen::Radius versions returned 0 here, which the reference took for up."""
    assert await run(freeradius, passwd="wrong") == (False, "Access-Reject")
    assert await run(freeradius, login="nobody") == (False, "Access-Reject")


async def test_another_secret_gets_no_valid_reply(freeradius: Radius) -> None:
    """FreeRADIUS drops the request (its Message-Authenticator does not verify): no reply
    within the library's timeout, which ends before the check's own bound."""
    outcome = await run(freeradius, secret="other", checktimeout=5.0, negotiatetimeout=0.5)
    assert outcome == (False, "no valid RADIUS reply within 0.5s (down, or another secret)")


async def test_server_stopped_is_down_at_once(freeradius: Radius) -> None:
    """The port-unreachable answer ends the check, as on the reference's connected socket."""
    with freeradius.daemon.stopped():
        outcome = await run(freeradius)
    assert outcome == (False, "Connection refused")
    assert (await run(freeradius))[0]


async def test_a_silent_server_is_bounded_by_checktimeout() -> None:
    with socket.socket(type=socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        target = Target("127.0.0.1", int(sock.getsockname()[1]))
        result = await radius.check(target, spec(checktimeout=0.5, negotiatetimeout=30.0))
    assert (result.ok, result.reason) == (False, "timeout after 0.5s")


async def test_probe_of_a_radius_virtual(freeradius: Radius, tmp_path: Path) -> None:
    lines = await probe_text(tmp_path, (
        f"virtual=127.0.0.1:1812\n\treal=127.0.0.1:{freeradius.port} masq\n\tprotocol=udp\n"
        f'\tlogin="{LOGIN}"\n\tpasswd="{PASSWD}"\n\tsecret="{SECRET}"\n\n'
        # Another weight: another real id, so not one shared check (spec 2.10)
        f"virtual=127.0.0.2:1812\n\treal=127.0.0.1:{freeradius.port} masq 2\n\tprotocol=udp\n"
        f'\tlogin="{LOGIN}"\n\tpasswd="wrong"\n\tsecret="{SECRET}"\n'))  # fmt: skip
    assert states(lines) == [("negotiate:radius", True, "Access-Accept"),
                             ("negotiate:radius", False, "Access-Reject")]  # fmt: skip
