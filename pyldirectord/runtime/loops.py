"""Which event loop runs the director: uvloop where it is installed, else asyncio's own.

uvloop (libuv) reads the clock once per loop pass instead of at every timer call, and its
transports are C: `make bench` in the sandbox, where every clock read is a real syscall,
measured the difference (docs/performance.md). Everything pyldirectord does works on either
loop, and the test suite runs on both (`make test`): ``PYLDIRECTORD_LOOP=asyncio`` chooses
asyncio's loop even where uvloop is installed, ``uvloop`` insists on uvloop.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

ENVIRONMENT = "PYLDIRECTORD_LOOP"
LOOPS = ("uvloop", "asyncio")

T = TypeVar("T")


def chosen_loop(environ: dict[str, str] | None = None) -> str:
    """The loop's name: the environment's choice, else uvloop when it can be imported."""
    wanted = (os.environ if environ is None else environ).get(ENVIRONMENT, "")
    if wanted in LOOPS:
        return wanted
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def loop_factory(name: str | None = None) -> Callable[[], asyncio.AbstractEventLoop]:
    if (name or chosen_loop()) == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
