"""A reload that fails for any reason keeps the running config and table (issue 12).

The director runs real checks against a real HTTP server on loopback; the kernel is an
in-memory table that refuses what the kernel refuses with ENOENT (a scheduler without its
module), so a reload to a config the kernel cannot take is undone whole. The lifecycle part
(a loader that fails with anything, not only a ConfigError) goes through the production
``AsyncRunner`` with the real config loader.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from memory_table import ListSink, MemoryTable
from test_director_host import Backend, free_port, until, web_config

from pyldirectord.checks.registry import Checkers
from pyldirectord.config.model import Config
from pyldirectord.core.desired import service_key
from pyldirectord.core.ipvsops import AddDest, AddService, EditService, Failure, IpvsApplyError, Op
from pyldirectord.core.table import IpvsTable
from pyldirectord.notify.log import Log
from pyldirectord.runtime.asyncrunner import RELOAD_FAILED, AsyncRunner
from pyldirectord.runtime.context import DirectorContext
from pyldirectord.runtime.director import Director, ReloadRefused
from pyldirectord.runtime.subinstances import SubInstances

VIP = "192.0.2.80"


class NoSuchScheduler(MemoryTable):
    """Refuses a service whose scheduler has no kernel module, as netlink does (ENOENT),
    and applies the rest of the batch."""

    async def apply(self, ops: Sequence[Op]) -> None:
        refused = [op for op in ops if isinstance(op, AddService | EditService)
                   and op.service.scheduler == "nosuch"]  # fmt: skip
        missing = {op.service.key for op in refused if isinstance(op, AddService)}
        orphans = [op for op in ops if isinstance(op, AddDest) and op.service in missing]
        await super().apply([op for op in ops if op not in refused and op not in orphans])
        failures = [Failure(op, errno.ENOENT) for op in refused]
        failures += [Failure(op, errno.ESRCH) for op in orphans]  # no such service
        if failures:
            raise IpvsApplyError(failures)


@pytest.fixture
async def server() -> AsyncIterator[Backend]:
    backend = Backend("127.0.0.21", free_port())
    await backend.start()
    yield backend
    await backend.stop()


async def started(config: Config, memory: MemoryTable, checkers: Checkers,
                  sink: ListSink) -> Director:  # fmt: skip
    director = Director(config, memory, checkers, Log(sink))
    await director.start()
    key = service_key(config.virtuals[0])
    await until(lambda: any(d.weight for d in memory.table.reals(key).values()))
    return director


async def test_a_table_the_kernel_refuses_is_undone_whole(server: Backend) -> None:
    old = web_config([server])
    memory, sink = NoSuchScheduler(), ListSink()
    async with Checkers() as checkers:
        director = await started(old, memory, checkers, sink)
        before: IpvsTable = memory.table
        kept = old.virtuals[0]
        # The new config adds a virtual the kernel takes and changes the kept one so that
        # the kernel refuses it: neither change may stay.
        added = replace(kept, port=8080, line=10)
        refused = replace(kept, scheduler="nosuch")
        with pytest.raises(ReloadRefused, match="nosuch"):
            await director.reload(replace(old, virtuals=(refused, added)))
        assert director.config is old
        assert memory.table == before
        # still checking the old config's real, and the next pass changes nothing
        memory.take_ops()
        await director.reconcile()
        assert memory.take_ops() == []
        await director.stop()
    print("\n".join(sink.lines))


async def test_a_refusal_the_old_config_already_had_does_not_block_a_reload(
    server: Backend,
) -> None:
    base = web_config([server])
    broken = replace(base.virtuals[0], port=81, scheduler="nosuch", line=20)
    old = replace(base, virtuals=(*base.virtuals, broken))
    memory, sink = NoSuchScheduler(), ListSink()
    async with Checkers() as checkers:
        director = await started(old, memory, checkers, sink)
        added = replace(base.virtuals[0], port=8080, line=30)
        new = replace(old, virtuals=(*old.virtuals, added))
        await director.reload(new)  # the :81 service was refused before and still is
        assert director.config is new
        assert any(":8080" in str(key) for key in memory.table.services)
        await director.stop()


class Recorder:
    """An AsyncDirector that records the configs it is given."""

    def __init__(self) -> None:
        self.reloads: list[Config] = []

    async def start(self) -> None:
        pass

    async def reload(self, new: Config) -> None:
        self.reloads.append(new)

    async def stop(self) -> None:
        pass


async def test_a_loader_failing_with_anything_keeps_the_running_config(tmp_path: Path) -> None:
    lines: list[str] = []
    config = Config(path=str(tmp_path / "lvs.cf"))
    context = DirectorContext(
        config=config, config_path=config.path, cfgname="lvs.cf", debug=False,
        foreground=True, log=lines.append, state_file=str(tmp_path / "state.json"),
        sub_instances=SubInstances("true", (), lines.append),
    )  # fmt: skip
    recorder = Recorder()

    async def build(_context: DirectorContext) -> Recorder:
        return recorder

    def load(path: str) -> Config:
        raise UnicodeError("label too long")  # e.g. from a resolver, not a ConfigError

    runner = AsyncRunner(context, build, load)
    task = asyncio.get_running_loop().run_in_executor(None, runner.run)
    await until(lambda: runner._loop is not None)
    runner.request_reload()
    await until(lambda: any(RELOAD_FAILED in line for line in lines))
    runner.request_stop("TERM")
    async with asyncio.timeout(30):
        await task
    assert recorder.reloads == []
    assert runner.config is config
    assert [line for line in lines if RELOAD_FAILED in line] == [
        f"{RELOAD_FAILED}: UnicodeError('label too long')"
    ]
