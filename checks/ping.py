"""checktype=ping: ICMP echo over a raw socket (icmplib), IPv4 and IPv6 (spec 4.2).

``checkcount`` attempts, each bounded by the check timeout; any reply ends the check as up.
No ping binary is needed; raw sockets need root (or CAP_NET_RAW), which the director has.
"""

from __future__ import annotations

from icmplib import async_ping
from icmplib.exceptions import ICMPLibError

from pyldirectord.checks.base import CheckResult, CheckSpec, Outcome, Target, bounded


async def check(target: Target, spec: CheckSpec) -> CheckResult:
    attempts = max(1, spec.checkcount)
    # The outer bound only catches a wedged library: each attempt has its own timeout.
    outer = spec.checktimeout * attempts + 1.0
    return await bounded(outer, lambda: _ping(target.ip, attempts, spec.checktimeout))


async def _ping(ip: str, attempts: int, timeout: float) -> Outcome:
    for _ in range(attempts):
        try:
            host = await async_ping(ip, count=1, timeout=timeout, privileged=True)
        except ICMPLibError as err:
            return False, f"ping error: {err}"
        if host.is_alive:
            return True, f"echo reply in {host.avg_rtt:.3f} ms"
    noun = "attempt" if attempts == 1 else "attempts"
    return False, f"no echo reply ({attempts} {noun} of {timeout:g}s)"
