"""The health-event log (``eventlog=/path``; docs/observability.md): one JSON object per line
for every real that changes state, as Envoy's health-event log and HAProxy's
``log-health-checks`` give their operators::

    {"time": "2026-12-01T17:40:12.345Z", "virtual": "tcp:192.168.6.240:80",
     "real": "10.0.0.2:80", "old": "up", "new": "down", "reason": "HTTP 503", "latency": 0.004}

Written by a background thread, never by the event loop: a slow or stuck disk delays the log,
not the checks. The queue is bounded; what does not fit is counted and reported, not kept.
The file is opened for append per batch (logrotate's rename needs no signal) by the same rules
as logfile and monitorfile (``notify.appendfile``): never through a symlink, a regular file
only (a FIFO or a device is refused, never blocks the writer), created with mode 0640.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
import time
from collections.abc import Callable

from pyldirectord.core.observer import Transition
from pyldirectord.notify.appendfile import open_append_fd

QUEUE_SIZE = 10_000


def event_line(transition: Transition) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(transition.at))
    millis = int(transition.at * 1000) % 1000
    latency = None if transition.latency is None else round(transition.latency, 6)
    return json.dumps({
        "time": f"{stamp}.{millis:03d}Z", "virtual": transition.virtual, "real": transition.real,
        "old": transition.old, "new": transition.new, "reason": transition.reason,
        "latency": latency,
    }) + "\n"  # fmt: skip


def append(path: str, text: str) -> None:
    """Append ``text`` to ``path`` (``appendfile.open_append_fd``: OSError for a symlink, a
    FIFO or a device)."""
    fd = open_append_fd(path)
    try:
        data = text.encode("utf-8", errors="replace")
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)


class EventLog:
    """An ``observer.Observer`` that writes transitions; ``report`` gets error messages (called
    from the writer thread: give it something thread-safe, e.g. ``loop.call_soon_threadsafe``).
    """

    def __init__(self, path: str, report: Callable[[str], None],
                 queue_size: int = QUEUE_SIZE) -> None:  # fmt: skip
        self.path = path
        self.dropped = 0  # transitions not logged because the writer fell behind
        self._report = report
        self._queue: queue.Queue[str | None] = queue.Queue(queue_size)
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="eventlog", daemon=True)
        self._thread.start()

    def checked(self, check: str, ok: bool, elapsed: float) -> None:
        pass

    def applied(self, applied: int, refused: int) -> None:
        pass

    def transition(self, transition: Transition) -> None:
        try:
            self._queue.put_nowait(event_line(transition))
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (waiting at most ``timeout``), then stop the writer."""
        with contextlib.suppress(queue.Full):  # still writing after timeout: a daemon thread
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            lines: list[str] = []
            item = self._queue.get()
            while item is not None:
                lines.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if lines:
                self._write("".join(lines))
            if item is None:
                return

    def _write(self, text: str) -> None:
        try:
            append(self.path, text)
        except OSError as error:
            if not self._failing:  # once per outage, not once per line
                self._report(f"cannot write event log {self.path}: {error.strerror}")
            self._failing = True
            return
        if self._failing:
            self._report(f"event log {self.path} is writable again")
        self._failing = False
