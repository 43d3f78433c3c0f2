"""The Markdown table, the targets and the plot of a `make bench` run, from its JSON.

    python bench/report.py bench/results.json --markdown bench/RESULTS.md --plot bench/results.png
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Row = dict[str, Any]
CHECKINTERVAL, CHECKTIMEOUT = 2.0, 1.0
DETECT_TARGET = CHECKINTERVAL + CHECKTIMEOUT + 0.5
CONVERGE_TARGET, CONVERGE_AT = CHECKINTERVAL, 1000
RSS_TARGET, RSS_AT = 80.0, 5000


def show(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def table(rows: list[Row]) -> str:
    head = ("| N | director | check | converge s | CPU s/min | CPU s per 1k checks | checks/s "
            "| detect s | recover s | peak RSS MB | false downs | notes |\n"
            "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")  # fmt: skip
    lines = [
        f"| {r['reals']} | {r['director']} | {r['check']} | {show(r['converge'])} "
        f"| {show(r['cpu_per_min'])} | {show(r['cpu_per_1k_checks'])} "
        f"| {show(r['checks_per_s'], 0)} | {show(r['detect'])} | {show(r['recover'])} "
        f"| {show(r['peak_rss_mb'], 1)} | {r['false_downs']} | {'; '.join(r['notes'])} |\n"
        for r in sorted(rows, key=lambda r: (r["reals"], r["check"], r["director"]))
    ]
    return head + "".join(lines)


def find(rows: list[Row], director: str, check: str, reals: int) -> Row | None:
    for row in rows:
        if (row["director"], row["check"], row["reals"]) == (director, check, reals):
            return row
    return None


def verdict(ok: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[ok]


def targets(rows: list[Row]) -> Iterator[str]:
    """One line per target and check, pyldirectord's figures against the target's."""
    ours = [r for r in rows if r["director"] == "pyldirectord"]
    for check in sorted({r["check"] for r in ours}):
        mine = sorted((r for r in ours if r["check"] == check), key=lambda r: r["reals"])
        detects = [(r["reals"], r["detect"]) for r in mine]
        ok = None if not detects else all(d is not None and d <= DETECT_TARGET for _, d in detects)
        seen = ", ".join(f"N={n}: {show(d)} s" for n, d in detects)
        yield f"- {check}: detect <= {DETECT_TARGET:.1f} s at every N: {verdict(ok)} ({seen})"
        row = find(ours, "pyldirectord", check, CONVERGE_AT)
        value = None if row is None else row["converge"]
        ok = None if row is None else value is not None and value <= CONVERGE_TARGET
        yield (f"- {check}: converge <= {CONVERGE_TARGET:.0f} s at N={CONVERGE_AT}: "
               f"{verdict(ok)} ({show(value)} s)")  # fmt: skip
        for row in mine:
            theirs = find(rows, "keepalived", check, row["reals"])
            if theirs is None:
                continue
            a, b = row["cpu_per_1k_checks"], theirs["cpu_per_1k_checks"]
            ok = None if a is None or b is None else a <= b
            yield (f"- {check}: CPU per 1,000 checks <= keepalived's at N={row['reals']}: "
                   f"{verdict(ok)} ({show(a)} s against {show(b)} s)")  # fmt: skip
        row = find(ours, "pyldirectord", check, RSS_AT)
        value = None if row is None else row["peak_rss_mb"]
        ok = None if value is None else value <= RSS_TARGET
        yield (f"- {check}: peak RSS <= {RSS_TARGET:.0f} MB at N={RSS_AT}: {verdict(ok)} "
               f"({show(value, 1)} MB)")  # fmt: skip


def markdown(payload: dict[str, Any], plot: Path | None) -> str:
    env, rows = payload["environment"], payload["results"]
    about = "".join(f"- {key}: {value}\n" for key, value in env.items())
    picture = f"\n![detection latency and CPU against N]({plot.name})\n" if plot else ""
    return (
        "# `make bench`: pyldirectord, the Perl ldirectord and keepalived in the sandbox\n\n"
        f"{about}\n"
        "One virtual, N reals (each a /32 address in one netns, one asyncio HTTP server for all),"
        " checkinterval 2 s, checktimeout 1 s, quiescent (keepalived: delay_loop 2,"
        " connect_timeout 1, inhibit_on_failure, retry 0, alpha). converge: start command ->"
        " all N at weight > 0; CPU: the director's whole process tree over the steady window,"
        " checks counted at the server; detect: 10 % of the reals' addresses removed -> all of"
        " them at weight 0; recover: addresses back -> all N at weight > 0; false downs: healthy"
        " reals seen at weight 0 after converging. — = not reached within the bench's bound.\n\n"
        f"{table(rows)}{picture}\n## pyldirectord's targets\n\n" + "\n".join(targets(rows)) + "\n"
    )


def plot_png(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (detect, cpu) = plt.subplots(1, 2, figsize=(11, 4.2))
    for director in ("pyldirectord", "keepalived", "ldirectord"):
        for check, style in (("connect", "o-"), ("http", "s--")):
            mine = sorted((r for r in rows if (r["director"], r["check"]) == (director, check)),
                          key=lambda r: r["reals"])  # fmt: skip
            for axis, field in ((detect, "detect"), (cpu, "cpu_per_min")):
                points = [(r["reals"], r[field]) for r in mine if r[field] is not None]
                if points:
                    xs, ys = zip(*points, strict=True)
                    axis.plot(xs, ys, style, label=f"{director} {check}")
    detect.axhline(DETECT_TARGET, color="grey", linestyle=":", label="pyldirectord target")
    detect.set(xscale="log", xlabel="reals (N)", ylabel="detect, s", title="Detection latency")
    cpu.set(xscale="log", xlabel="reals (N)", ylabel="CPU-s per minute",
            title="Steady CPU, whole process tree")  # fmt: skip
    for axis in (detect, cpu):
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path)
    parser.add_argument("--markdown", type=Path, default=Path("bench/RESULTS.md"))
    parser.add_argument("--plot", type=Path, default=Path("bench/results.png"))
    args = parser.parse_args(argv)
    payload = json.loads(args.json.read_text())
    plot_png(payload["results"], args.plot)
    args.markdown.write_text(markdown(payload, args.plot))
    print(args.markdown.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
