"""The read-only HTML status page (``/``): virtuals and reals with state, weight, last reason
and latency, from the same snapshot as the state file (pure: a ``DirectorState`` in, text out).

Every text that comes from the outside (check reasons quote what servers answered, config
values) is escaped; the page has no script and refreshes itself with a meta refresh, so the
server sends it with a Content-Security-Policy that forbids scripts altogether.
"""

from __future__ import annotations

import time
from html import escape

from pyldirectord.notify.statefile import DirectorState, RealState

REFRESH_SECONDS = 5
# CSS classes by state; a state we do not know gets none (never the raw text as a class).
STATE_CLASS = {"up": "up", "down": "down", "unknown": "unknown"}

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin-bottom: 0.2em; }
p.meta { color: #555; margin-top: 0; }
p.overloaded { background: #fde2b3; padding: 0.4em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.3em 0.7em; border-bottom: 1px solid #ddd; }
th { background: #f0f0f0; white-space: nowrap; }
td.virtual { font-weight: bold; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.up { color: #fff; background: #2e8b3a; }
td.down { color: #fff; background: #c0392b; }
td.unknown { background: #ccc; }
"""


def _latency(real: RealState) -> str:
    if real.latency is None:
        return "-"
    return f"{real.latency * 1000:.1f} ms"


def _when(last_check: float | None, now: float) -> str:
    if last_check is None:
        return "never"
    return f"{max(0, round(now - last_check))} s ago"


def _row(virtual: str, real: RealState, now: float) -> str:
    state_class = STATE_CLASS.get(real.state)
    state_attr = f' class="{state_class}"' if state_class else ""
    return (
        f'<tr><td class="virtual">{escape(virtual)}</td><td>{escape(real.real)}</td>'
        f"<td{state_attr}>{escape(real.state)}</td><td class=\"num\">{real.weight}</td>"
        f'<td class="num">{_latency(real)}</td><td>{_when(real.last_check, now)}</td>'
        f"<td>{escape(real.reason)}</td></tr>"
    )


def render_page(state: DirectorState, now: float, hostname: str) -> str:
    rows: list[str] = []
    for virtual in state.virtuals:
        if not virtual.reals:
            rows.append(f'<tr><td class="virtual">{escape(virtual.virtual)}</td>'
                        '<td colspan="6">no real servers</td></tr>')  # fmt: skip
        rows.extend(_row(virtual.virtual, real, now) for real in virtual.reals)
    reals = [real for virtual in state.virtuals for real in virtual.reals]
    up = sum(1 for real in reals if real.state == "up")
    written = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state.written_at))
    overloaded = (
        '<p class="overloaded">Overloaded: checks fall behind their interval; the last '
        "states are kept.</p>" if state.overloaded else ""
    )  # fmt: skip
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<title>pyldirectord on {escape(hostname)}</title>
<style>{STYLE}</style></head>
<body><h1>pyldirectord on {escape(hostname)}</h1>
<p class="meta">{escape(state.config)} &middot; pid {state.pid} &middot; {len(state.virtuals)}
virtual services, {up} of {len(reals)} real servers up &middot; as of {written}
&middot; refreshes every {REFRESH_SECONDS} s</p>
{overloaded}<table>
<tr><th>Virtual</th><th>Real</th><th>State</th><th>Weight</th><th>Latency</th>
<th>Last check</th><th>Last reason</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""
