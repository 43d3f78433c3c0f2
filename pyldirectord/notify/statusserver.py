"""The opt-in HTTP listener (``statusaddress=IP:PORT``; docs/observability.md), served by
aiohttp inside the daemon's event loop:

* ``/metrics``: Prometheus text (``metrics.Metrics``);
* ``/status``: the state file's JSON (what ``status`` prints, machine-readable);
* ``/``: a small read-only HTML page that refreshes itself (``statuspage``).

Read-only and bounded: GET only, the snapshot is taken at most once a second however many
clients ask (it is O(reals)), and the O(reals) rendering runs in a worker thread so that a
scrape of a big table never stalls the checks.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Protocol

from aiohttp import web

from pyldirectord.notify.metrics import LiveValues, Metrics
from pyldirectord.notify.statefile import DirectorState, to_json
from pyldirectord.notify.statuspage import render_page

SNAPSHOT_MAX_AGE = 1.0  # seconds a snapshot is served again before a new one is taken
# The classic text format, which generate_latest writes (legacy names) and every Prometheus
# version parses; newer prometheus_client labels it "version=1.0.0", which older ones predate.
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


class SchedulerStats(Protocol):
    @property
    def lag(self) -> float: ...

    @property
    def overloaded(self) -> bool: ...

    @property
    def inconclusive(self) -> int: ...

    @property
    def completed(self) -> int: ...


class Observed(Protocol):
    """The director as the listener sees it (``director.Director``)."""

    def snapshot(self) -> DirectorState: ...

    @property
    def scheduler(self) -> SchedulerStats: ...


class MailCounts(Protocol):
    @property
    def sent(self) -> int: ...

    @property
    def dropped(self) -> int: ...


class CachedSnapshot:
    """The director's snapshot, taken again when the last one is older than max_age or a
    real changed state since (``generation`` moved), so that a scrape never shows a state
    older than the transition counter beside it."""

    def __init__(
        self, take: Callable[[], DirectorState], clock: Callable[[], float],
        generation: Callable[[], int], max_age: float = SNAPSHOT_MAX_AGE,
    ) -> None:  # fmt: skip
        self._take = take
        self._clock = clock
        self._generation = generation
        self._max_age = max_age
        self._taken: tuple[float, int, DirectorState] | None = None

    def get(self) -> DirectorState:
        now, generation = self._clock(), self._generation()
        taken = self._taken
        if taken is None or now - taken[0] >= self._max_age or generation != taken[1]:
            taken = self._taken = (now, generation, self._take())
        return taken[2]


class StatusServer:
    def __init__(self, director: Observed, metrics: Metrics, mails: MailCounts | None) -> None:
        self._director = director
        self._metrics = metrics
        self._mails = mails
        self._snapshot = CachedSnapshot(director.snapshot, time.monotonic,
                                        lambda: metrics.generation)  # fmt: skip
        self._hostname = socket.gethostname()
        self._runner: web.AppRunner | None = None
        self.address: tuple[str, int] | None = None

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port; OSError (e.g. the port is taken) leaves nothing listening."""
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/status", self._status)
        app.router.add_get("/metrics", self._render_metrics)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.address = (host, port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self.address = None

    def _live(self) -> LiveValues:
        scheduler = self._director.scheduler
        mails = self._mails
        return LiveValues(
            state=self._snapshot.get(), lag=scheduler.lag, overloaded=scheduler.overloaded,
            inconclusive=scheduler.inconclusive, checks_ended=scheduler.completed,
            mails_sent=None if mails is None else mails.sent,
            mails_dropped=None if mails is None else mails.dropped,
        )  # fmt: skip

    async def _render_metrics(self, _request: web.Request) -> web.Response:
        body = await asyncio.to_thread(self._metrics.render, self._live())
        response = web.Response(body=body, headers=_NO_STORE)
        response.headers["Content-Type"] = METRICS_TYPE
        return response

    async def _status(self, _request: web.Request) -> web.Response:
        text = await asyncio.to_thread(to_json, self._snapshot.get())
        return web.Response(text=text, content_type="application/json", headers=_NO_STORE)

    async def _page(self, _request: web.Request) -> web.Response:
        text = await asyncio.to_thread(render_page, self._snapshot.get(), time.time(),
                                       self._hostname)  # fmt: skip
        headers = {**_NO_STORE, "Content-Security-Policy": PAGE_POLICY}
        return web.Response(text=text, content_type="text/html", headers=headers)


_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
