"""Run ``--probe``'s in-process path on an ldirectord.cf text: the config's directives, through
the parser and the check plans, reach the check as an operator wrote them."""

from __future__ import annotations

from pathlib import Path

from pyldirectord.cli.probe import ProbeLine, probe
from pyldirectord.config.resolve import load


async def probe_text(tmp_path: Path, blocks: str) -> list[ProbeLine]:
    path = tmp_path / "ldirectord.cf"
    path.write_text(f'checktimeout=10\nnegotiatetimeout=10\nlogfile="{tmp_path}/ld.log"\n\n'
                    + blocks)  # fmt: skip
    path.chmod(0o600)
    return await probe(load(str(path)))


def states(lines: list[ProbeLine]) -> list[tuple[str, bool, str]]:
    return [(line.check, line.result.ok, line.result.reason) for line in lines]
