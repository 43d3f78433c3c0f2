"""A reload that changes `logfile` moves the daemon's log there (the reference reads it again);
one that cannot be opened leaves the log where it was, saying why. The reload path itself runs
against the real daemon in tests/kernel/test_operator_habits.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pyldirectord.config.model import Config, Globals
from pyldirectord.notify.log import Log
from pyldirectord.runtime.context import DirectorContext
from pyldirectord.runtime.daemon import DirectorService
from pyldirectord.runtime.subinstances import SubInstances


def service_logging_to(path: Path) -> tuple[DirectorService, Config, Log]:
    config = Config(path="x.cf", globals=Globals(logfile=str(path)), virtuals=())
    log = Log.for_config(debug=False, supervised=False, logfile=str(path), cfgname="x.cf")
    context = DirectorContext(config=config, config_path="x.cf", cfgname="x.cf", debug=False,
                              foreground=True, log=log, state_file=str(path) + ".json",
                              sub_instances=SubInstances("true", (), log))  # fmt: skip
    return DirectorService(context, lambda: None), config, log  # the daemon's Log is this one


def logged(path: Path) -> list[str]:
    return [line.split("] ", 1)[1] for line in path.read_text().splitlines()]


def test_a_changed_logfile_is_used_from_the_reload_on(tmp_path: Path) -> None:
    old, new = tmp_path / "old.log", tmp_path / "new.log"
    service, config, log = service_logging_to(old)
    service.reopen_log(config, replace(config, globals=Globals(logfile=str(new))))
    log.log("after the reload")
    assert not old.exists() or "after the reload" not in old.read_text()
    assert logged(new) == ["after the reload"]


def test_a_logfile_that_cannot_be_opened_keeps_the_old_one(tmp_path: Path) -> None:
    old, new = tmp_path / "old.log", tmp_path / "missing-dir" / "new.log"
    service, config, log = service_logging_to(old)
    service.reopen_log(config, replace(config, globals=Globals(logfile=str(new))))
    log.log("still here")
    assert logged(old) == [f"unable to open logfile: {new}: still logging to {old}", "still here"]
