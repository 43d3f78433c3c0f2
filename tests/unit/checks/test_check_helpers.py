"""Pure helpers of the checks: verdicts, payloads, arguments, queries."""

import dns.rdatatype

from pyldirectord.checks.base import CheckSpec, Target
from pyldirectord.checks.dns import make_query
from pyldirectord.checks.external import exit_outcome, external_args
from pyldirectord.checks.http import judge
from pyldirectord.checks.simpletcp import payload


async def test_http_verdicts() -> None:
    assert await judge(200, "OK", b"all good", CheckSpec(receive="go+d")) == (True, "200 OK")
    assert await judge(204, "No Content", b"", CheckSpec()) == (True, "204 No Content")
    assert await judge(301, "Moved", b"", CheckSpec()) == (False, "301 Moved")
    ok, reason = await judge(200, "OK", b"x", CheckSpec(receive="("))
    assert not ok and reason.startswith("invalid receive regex '(': ")  # and regex's why


def test_simpletcp_payload_drops_the_first_character_and_only_expands_backslash_n() -> None:
    assert payload("/GET /\\n\\n") == b"GET /\n\n"
    assert payload("xHELLO\\r\\t") == b"HELLO\\r\\t"
    assert payload("") == b""


def test_external_arguments() -> None:
    v4 = Target("10.0.0.2", 8080, virtual_ip="10.0.0.1", virtual_port=80, real_port=80)
    v6 = Target("2001:db8::2", 80, virtual_ip="2001:db8::1", virtual_port=443, real_port=443)
    fwm = Target("10.0.0.2", 80, fwmark=12, real_port=0)
    assert external_args(v4) == ["10.0.0.1", "80", "10.0.0.2", "80"]
    assert external_args(v6) == ["[2001:db8::1]", "443", "[2001:db8::2]", "443"]
    assert external_args(fwm) == ["12", "0", "10.0.0.2", "0"]


def test_exit_outcomes() -> None:
    assert exit_outcome(0) == (True, "exit status 0")
    assert exit_outcome(2) == (False, "exit status 2")
    assert exit_outcome(-15) == (False, "killed by signal SIGTERM")


def test_dns_query_is_a_for_names_and_ptr_for_addresses() -> None:
    name = make_query("/www.example.test").question[0]
    address = make_query("/192.0.2.7").question[0]
    assert (name.name.to_text(), name.rdtype) == ("www.example.test.", dns.rdatatype.A)
    assert (address.name.to_text(), address.rdtype) == (
        "7.2.0.192.in-addr.arpa.",
        dns.rdatatype.PTR,
    )
