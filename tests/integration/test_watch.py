"""The config watcher against the real file system (inotify through watchdog)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pyldirectord.runtime.watch import ConfigWatcher, DirectoryWatcher

DEADLINE = 30.0


async def changes_after(seen: list[int], expected: int) -> None:
    async with asyncio.timeout(DEADLINE):
        while len(seen) < expected:
            await asyncio.sleep(0.02)


async def test_edit_in_place_and_atomic_rename_are_both_seen(tmp_path: Path) -> None:
    config = tmp_path / "ldirectord.cf"
    config.write_text("checkinterval=5\n")
    seen: list[int] = []
    watcher = ConfigWatcher(str(config), lambda: seen.append(1))
    try:
        config.write_text("checkinterval=6\n")
        await changes_after(seen, 1)
        # An editor's atomic save: a temporary file renamed over the config.
        temp = tmp_path / ".ldirectord.cf.swp"
        temp.write_text("checkinterval=7\n")
        os.replace(temp, config)
        await changes_after(seen, 2)
    finally:
        watcher.close()
    assert len(seen) == 2


async def test_touch_or_identical_save_is_no_change(tmp_path: Path) -> None:
    config = tmp_path / "ldirectord.cf"
    config.write_text("checkinterval=5\n")
    other = tmp_path / "other.cf"
    seen: list[int] = []
    watcher = ConfigWatcher(str(config), lambda: seen.append(1))
    try:
        config.touch()
        config.write_text("checkinterval=5\n")
        other.write_text("unrelated\n")
        # A real change after the no-ops proves the watcher was live all along.
        config.write_text("checkinterval=9\n")
        await changes_after(seen, 1)
        await asyncio.sleep(0.5)
    finally:
        watcher.close()
    assert len(seen) == 1


async def test_directory_watcher_debounces_a_burst(tmp_path: Path) -> None:
    seen: list[int] = []
    watcher = DirectoryWatcher(str(tmp_path), lambda: seen.append(1))
    try:
        for index in range(20):
            (tmp_path / f"10.0.0.{index}").touch()
        await changes_after(seen, 1)
        await asyncio.sleep(0.6)
    finally:
        watcher.close()
    assert len(seen) == 1
