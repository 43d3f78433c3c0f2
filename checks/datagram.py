"""One request datagram, then replies until one settles the check (SIP and simpletcp on UDP).

Each reply datagram is judged as it arrives and then dropped, so a flood of them costs no
memory; a datagram is at most 64 KiB by nature. An ICMP error (port unreachable: nothing
listens) ends the exchange as that error, as a connected UDP socket in the reference does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pyldirectord.checks.base import Outcome, Target

# The local (address, port), as the request may need to name it (SIP's Via).
Payload = Callable[[tuple[str, int]], bytes]
# A reply datagram's verdict, or None to keep waiting for another.
Judge = Callable[[bytes], Outcome | None]


class _Exchange(asyncio.DatagramProtocol):
    def __init__(self, judge: Judge, verdict: asyncio.Future[Outcome]) -> None:
        self._judge, self._verdict = judge, verdict

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if self._verdict.done():
            return
        outcome = self._judge(data)
        if outcome is not None:
            self._verdict.set_result(outcome)

    def error_received(self, exc: Exception) -> None:
        if not self._verdict.done():
            self._verdict.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._verdict.done():
            self._verdict.set_exception(exc or ConnectionError("socket closed"))


async def exchange(target: Target, payload: Payload, judge: Judge) -> Outcome:
    """Send ``payload`` from a socket connected to the real; the first settling reply wins."""
    loop = asyncio.get_running_loop()
    verdict: asyncio.Future[Outcome] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Exchange(judge, verdict), remote_addr=(target.ip, target.port)
    )
    try:
        local = transport.get_extra_info("sockname")
        transport.sendto(payload((str(local[0]), int(local[1]))))
        return await verdict
    finally:
        verdict.cancel()  # on a timeout nobody awaits it: closing must not set an exception
        transport.close()
