"""The check workers' wire (length-prefixed frames of pickled messages) and their sharding."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import pyldirectord
from pyldirectord.config.parser import parse
from pyldirectord.core.checkplan import check_plans
from pyldirectord.core.health import ProbeResult
from pyldirectord.runtime.workers import (
    exit_text,
    shard_of,
    shards,
    worker_count,
    worker_environment,
)
from pyldirectord.runtime.workerwire import (
    HEADER,
    MAX_FRAME,
    Assign,
    CheckNow,
    FrameError,
    LogLine,
    Message,
    Results,
    Stats,
    encode,
    read_message,
    result_of,
    row_of,
)

CONFIG = """checkinterval=3
virtual=192.0.2.1:80
\treal=127.0.0.11:80 gate
\treal=127.0.0.12:80 gate
\treal=127.0.0.13:80 gate
\tchecktype=negotiate
\tservice=http
\trequest="/health"
\treceive="ok"
virtual=192.0.2.2:80
\treal=127.0.0.11:80 gate
\tchecktype=negotiate
\tservice=http
\trequest="/health"
\treceive="ok"
"""


def stream_of(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def read_all(data: bytes) -> list[Message]:
    reader, messages = stream_of(data), []
    while (message := await read_message(reader)) is not None:
        messages.append(message)
    return messages


async def test_messages_survive_the_wire_in_order() -> None:
    plans = check_plans(parse(CONFIG, "ld.cf"))
    result = ProbeResult(False, "Connection refused", 0.25, maintenance=False, negotiated=True)
    sent: list[Message] = [
        Assign(plans, "/etc/ha.d/maintenance", 1000),
        CheckNow(("a", "b")),
        Results((row_of("a", result, 0.5),)),
        Stats(0.1, False, 2, 30, 0),
        LogLine("Check of real server 127.0.0.1:80 failed"),
    ]
    assert await read_all(b"".join(encode(m) for m in sent)) == sent


async def test_a_result_row_keeps_every_field_and_its_age() -> None:
    result = ProbeResult(True, "ok", 0.125, maintenance=True, negotiated=True)
    (row,) = (await read_all(encode(Results((row_of("k", result, 0.75),)))))[0].rows  # type: ignore[union-attr]
    assert result_of(row) == ("k", result, 0.75)


async def test_a_frame_cut_short_is_an_error_not_a_clean_end() -> None:
    frame = encode(LogLine("x" * 100))
    with pytest.raises(FrameError, match="inside a frame header"):
        await read_all(frame[:2])
    with pytest.raises(FrameError, match="inside a frame"):
        await read_all(frame[:-1])


async def test_an_oversized_length_is_refused_before_reading_it() -> None:
    with pytest.raises(FrameError, match="exceeds"):
        await read_all(HEADER.pack(MAX_FRAME + 1))


async def test_a_frame_that_is_no_message_is_refused() -> None:
    import pickle

    payload = pickle.dumps({"not": "a message"})
    with pytest.raises(FrameError, match="not a message: dict"):
        await read_all(HEADER.pack(len(payload)) + payload)


def test_every_real_is_in_exactly_one_shard_without_its_members() -> None:
    plans = check_plans(parse(CONFIG, "ld.cf"))
    split = shards(plans, 3)
    assert sorted(key for shard in split for key in shard) == sorted(plans)
    for index, shard in enumerate(split):
        for key, plan in shard.items():
            assert shard_of(key, 3) == index
            assert plan == replace(plans[key], members=())


def test_a_shard_is_the_same_in_another_process() -> None:
    # hash() of a str differs per process (PYTHONHASHSEED); a restarted worker, and the next
    # start of the daemon, must get the same reals.
    keys = list(check_plans(parse(CONFIG, "ld.cf")))
    here = [shard_of(key, 7) for key in keys]
    code = ("import sys; from pyldirectord.runtime.workers import shard_of; "
            "print([shard_of(k, 7) for k in sys.argv[1:]])")  # fmt: skip
    there = subprocess.run([sys.executable, "-c", code, *keys], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": "random"})  # fmt: skip
    assert there.stdout.strip() == str(here)


def test_auto_is_the_cpus_this_process_may_use() -> None:
    assert worker_count("auto") == min(len(os.sched_getaffinity(0)), 64)
    assert worker_count(3) == 3


def test_a_worker_imports_the_package_its_director_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = str(Path(pyldirectord.__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", "/opt/site")
    assert worker_environment()["PYTHONPATH"] == f"{root}:/opt/site"
    monkeypatch.delenv("PYTHONPATH")
    assert worker_environment()["PYTHONPATH"] == root


def test_exit_text_names_the_signal() -> None:
    assert exit_text(-9) == "killed by SIGKILL"
    assert exit_text(1) == "exit code 1"
    assert exit_text(None) == "still running"
