"""Watching files with watchdog: the config (autoreload, callback) and the maintenance dir.

Editors save atomically (write a temporary file, rename it over the original), so watching the
file itself loses it after the first save; we watch its directory and filter by name. A change
is acted on after a short quiet period (debounce), and for the config only when the content hash
differs: a touch, or a save that changes nothing, is no change (as the reference's MD5 test).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

DEBOUNCE = 0.2  # seconds of quiet after the last event before acting


def file_digest(path: str) -> str | None:
    """SHA-256 of the file's content, or None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


class _Forward(FileSystemEventHandler):
    """Runs in watchdog's thread: hands matching events to the event loop."""

    def __init__(self, wanted: Callable[[str], bool], poke: Callable[[], None]) -> None:
        self._wanted = wanted
        self._poke = poke

    def on_any_event(self, event: FileSystemEvent) -> None:
        paths = [event.src_path, getattr(event, "dest_path", "")]
        if any(self._wanted(os.fsdecode(p)) for p in paths if p):
            self._poke()


class DirectoryWatcher:
    """Calls ``on_change`` in the loop, debounced, when a matching path in ``directory`` changes."""

    def __init__(
        self,
        directory: str,
        on_change: Callable[[], None],
        wanted: Callable[[str], bool] = lambda _path: True,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_change = on_change
        self._pending: asyncio.TimerHandle | None = None
        self._observer = Observer()
        handler = _Forward(wanted, self._poke)
        self._observer.schedule(handler, directory, recursive=False)
        self._observer.daemon = True
        self._observer.start()

    def _poke(self) -> None:
        # Called from watchdog's thread.
        self._loop.call_soon_threadsafe(self._debounce)

    def _debounce(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        self._pending = self._loop.call_later(DEBOUNCE, self._fire)

    def _fire(self) -> None:
        self._pending = None
        self._on_change()

    def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        self._observer.stop()
        self._observer.join(timeout=5)


class ConfigWatcher:
    """Calls ``on_change()`` when the config file's content really changed."""

    def __init__(self, path: str, on_change: Callable[[], None]) -> None:
        self._path = os.path.abspath(path)
        self._on_change = on_change
        self.digest = file_digest(self._path)
        self._dir = DirectoryWatcher(
            os.path.dirname(self._path), self._check, lambda p: os.path.abspath(p) == self._path
        )

    def _check(self) -> None:
        digest = file_digest(self._path)
        if digest is None or digest == self.digest:
            return
        self.digest = digest
        self._on_change()

    def close(self) -> None:
        self._dir.close()
