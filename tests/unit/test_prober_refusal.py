"""A check that cannot run is down with its reason, never replaced by a connect (issue 13)."""

from __future__ import annotations

import asyncio

from pyldirectord.checks.base import CheckSpec, Target
from pyldirectord.checks.registry import Checkers
from pyldirectord.core.checkplan import CheckPlan
from pyldirectord.runtime.prober import Prober


async def test_an_unsupported_service_is_down_even_with_a_listening_real() -> None:
    """Before, a TCP connect stood in: a live listener made this real up."""
    connected = asyncio.Event()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        plan = CheckPlan(key="k", target=Target("127.0.0.1", port),
                         spec=CheckSpec(service="oracle"), combined_connects=None,
                         members=(), interval=10.0)  # fmt: skip
        prober = Prober(plan, Checkers(), None)
        result = await prober()
    assert not result.ok
    assert result.reason.startswith("not checked: service=oracle is not supported")
    assert prober.note == result.reason  # the director logs it as a warning once
    assert not connected.is_set()
