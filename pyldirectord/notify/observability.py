"""The daemon's observability parts, started, reconfigured and stopped together: the metrics
counters, the HTTP status listener (``statusaddress``) and the health-event log
(``eventlog``). The daemon calls ``configure`` with each config (start and reload), ``serve``
once the director runs, and ``close`` at stop; nothing here can stop the director from
running: a listener that cannot bind and an event log that cannot be written are logged.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pyldirectord.config.model import Config
from pyldirectord.core.observer import Observer, Observers
from pyldirectord.notify.eventlog import EventLog
from pyldirectord.notify.log import Log

if TYPE_CHECKING:
    # Imported when a config sets statusaddress: aiohttp's server and prometheus_client
    # weigh about 25 MB of resident memory a director without a status listener never uses.
    from pyldirectord.notify.metrics import Metrics
    from pyldirectord.notify.statusserver import MailCounts, Observed, StatusServer


class Observability:
    def __init__(self, log: Log) -> None:
        self.observers = Observers()
        self._log = log
        self._loop = asyncio.get_running_loop()
        self.metrics: Metrics | None = None  # kept across reloads: counters never go back
        self.eventlog: EventLog | None = None
        self._server: StatusServer | None = None
        self._closing: list[asyncio.Future[None]] = []  # event logs a reload replaced

    def configure(self, config: Config) -> None:
        """The observers ``config`` asks for (before the director starts or reloads)."""
        globals_ = config.globals
        if globals_.statusaddress is not None and self.metrics is None:
            from pyldirectord.notify.metrics import Metrics

            self.metrics = Metrics()
        path = globals_.eventlog
        if self.eventlog is not None and self.eventlog.path != path:
            # its writer finishes the queued lines in a worker, never in the loop
            self._closing.append(self._loop.run_in_executor(None, self.eventlog.close))
            self.eventlog = None
        if path is not None and self.eventlog is None:
            self.eventlog = EventLog(path, self._report)
        chosen: list[Observer] = [o for o in (self.metrics, self.eventlog) if o is not None]
        self.observers.set(chosen)

    async def serve(self, config: Config, director: Observed, mails: MailCounts | None) -> None:
        """Listen where ``config`` says (again only when the address changed)."""
        address = config.globals.statusaddress
        if self._server is not None and self._server.address == address:
            return
        if self._server is not None:
            await self._server.close()
            self._server = None
        if address is None or self.metrics is None:
            return
        from pyldirectord.notify.statusserver import StatusServer

        server = StatusServer(director, self.metrics, mails)
        host, port = address
        try:
            await server.start(host, port)
        except OSError as error:
            self._log.log(f"statusaddress: cannot listen on {_where(host, port)}: "
                          f"{error.strerror or error}")  # fmt: skip
            return
        self._server = server
        self._log.log(f"statusaddress: serving /metrics, /status and / on {_where(host, port)}")

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None
        if self.eventlog is not None:
            await asyncio.to_thread(self.eventlog.close)
            self.eventlog = None
        await asyncio.gather(*self._closing)
        self._closing = []
        self.observers.set(())

    def _report(self, message: str) -> None:
        """For the event log's writer thread: log from the loop, never from the thread."""
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._log.log, message)


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
