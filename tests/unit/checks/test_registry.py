"""The registry: (checktype, service, protocol) -> check function, unsupported reported."""

import pytest

from pyldirectord.checks import connect, dns, external, mysql, nntp, ping, simpletcp, smtp
from pyldirectord.checks.base import CheckSpec, Target
from pyldirectord.checks.registry import Checkers, UnsupportedCheck, always_up, never_up


@pytest.fixture
def checkers() -> Checkers:
    return Checkers()  # lookups need no open session


def test_generic_checktypes(checkers: Checkers) -> None:
    assert checkers.lookup("connect", "http", "tcp") is connect.check
    assert checkers.lookup("connect", "none", "fwm") is connect.check
    assert checkers.lookup("ping", "none", "tcp") is ping.check
    assert checkers.lookup("external", "none", "tcp") is external.check
    assert checkers.lookup("external-perl", "none", "tcp") is external.check_perl
    assert checkers.lookup("on", "http", "tcp") is always_up
    assert checkers.lookup("off", "http", "tcp") is never_up


def test_connect_on_udp_is_a_ping_like_ldirectord(checkers: Checkers) -> None:
    assert checkers.lookup("connect", "dns", "udp") is ping.check


def test_negotiate_services(checkers: Checkers) -> None:
    for service in ("http", "https", "http_proxy"):
        assert checkers.lookup("negotiate", service, "tcp") == checkers.http.check
    assert checkers.lookup("negotiate", "mysql", "tcp") is mysql.check
    assert checkers.lookup("negotiate", "simpletcp", "tcp") is simpletcp.check
    assert checkers.lookup("negotiate", "none", "fwm") is always_up
    assert checkers.lookup("negotiate", "smtp", "tcp") is smtp.check
    assert checkers.lookup("negotiate", "submission", "tcp") is smtp.check
    assert checkers.lookup("negotiate", "nntp", "tcp") is nntp.check
    assert checkers.lookup("negotiate", "dns", "udp") is dns.check
    assert checkers.lookup("negotiate", "dns", "tcp") is dns.check


@pytest.mark.parametrize(
    ("checktype", "service", "protocol", "message"),
    [
        (
            "negotiate",
            "ldap",
            "tcp",
            "negotiate check of service 'ldap' over tcp is not implemented",
        ),
        ("negotiate", "simpletcp", "udp", "service 'simpletcp' over udp is not implemented"),
        ("negotiate", "gopher", "tcp", "unknown service 'gopher'"),
        ("bogus", "http", "tcp", "unknown checktype 'bogus'"),
    ],
)
def test_unsupported_is_reported_never_up(
    checkers: Checkers, checktype: str, service: str, protocol: str, message: str
) -> None:
    with pytest.raises(UnsupportedCheck, match=message):
        checkers.lookup(checktype, service, protocol)


async def test_on_and_off_do_no_io() -> None:
    up = await always_up(Target("192.0.2.1", 80), CheckSpec(checktype="on"))
    down = await never_up(Target("192.0.2.1", 80), CheckSpec(checktype="off"))
    assert (up.ok, down.ok, down.reason) == (True, False, "checktype off")


def test_combined_is_looked_up_as_its_two_halves(checkers: Checkers) -> None:
    with pytest.raises(ValueError, match="look up 'negotiate' and 'connect'"):
        checkers.lookup("combined", "http", "tcp")
    assert checkers.lookup("connect", "http", "tcp") is connect.check
    assert checkers.lookup("negotiate", "http", "tcp") == checkers.http.check
