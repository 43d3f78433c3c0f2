"""service=dns: ask the real for the request's name, match receive on the answers (spec 4.3).

The name is ``request`` minus its leading ``/``; an IP literal becomes a PTR query, anything
else an A query, as Net::DNS's search() does. TCP when the virtual is TCP, else UDP. Up iff
``receive`` is set and an A address or a PTR name in the answer matches it (unanchored); AAAA
never matches and an empty receive is always down, as in the reference.
"""

from __future__ import annotations

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.reversename

from pyldirectord.checks.base import (
    CheckResult,
    CheckSpec,
    Outcome,
    Target,
    bounded,
    is_ip_literal,
    strip_slash,
)
from pyldirectord.checks.receive import search_text
from pyldirectord.config.receive import ReceiveError, compile_text


def make_query(request: str) -> dns.message.Message:
    name = strip_slash(request)
    if is_ip_literal(name):
        return dns.message.make_query(dns.reversename.from_address(name), dns.rdatatype.PTR)
    return dns.message.make_query(dns.name.from_text(name), dns.rdatatype.A)


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    return await bounded(spec.negotiatetimeout, lambda: _ask(target, spec))


async def _ask(target: Target, spec: CheckSpec) -> Outcome:
    try:
        query = make_query(spec.request)
        compile_text(spec.receive)
        if spec.protocol == "tcp":
            response = await dns.asyncquery.tcp(query, target.ip, port=target.port)
        else:
            response = await dns.asyncquery.udp(query, target.ip, port=target.port)
    except ReceiveError as err:
        return False, str(err)
    except dns.exception.DNSException as err:
        return False, f"DNS error: {err}"
    answers = answer_texts(response)
    if not answers:
        return False, f"no answer ({dns.rcode.to_text(response.rcode())})"
    try:
        matched = bool(spec.receive) and await search_text(spec.receive, *answers)
    except ReceiveError as err:
        return False, str(err)
    if matched:
        return True, "Success"
    return False, f"Response mismatch: {', '.join(answers[:5])}"


def answer_texts(response: dns.message.Message) -> list[str]:
    """The A addresses and PTR names of the answer section, the only types matched."""
    texts: list[str] = []
    for rrset in response.answer:
        for rdata in rrset:
            if rdata.rdtype == dns.rdatatype.A:
                texts.append(rdata.to_text())
            elif rdata.rdtype == dns.rdatatype.PTR:
                texts.append(rdata.to_text().rstrip("."))
    return texts
