"""The status page of a running director, rendered by headless Chromium (Debian's `chromium`):
the DOM it built shows every real with its state, and the hostile reason as text, never as
markup; the screenshot is kept as a test artefact (build/status-page.png; docs/status-page.png
is a copy of it for the README)."""

from __future__ import annotations

import asyncio
import shutil
import struct
from pathlib import Path

from status_rig import DEADLINE, HOSTILE_REASON, Rig, running_director, until

CHROMIUM = shutil.which("chromium")
ARTEFACT = Path(__file__).resolve().parents[3] / "build" / "status-page.png"


async def chromium(profile: Path, *args: str) -> bytes:
    """One headless Chromium run with a new empty profile; its stdout."""
    assert CHROMIUM is not None, "needs Debian's chromium (make apt installs it)"
    profile.mkdir()
    process = await asyncio.create_subprocess_exec(
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(DEADLINE * 2):  # Chromium's start on a loaded 2-core host
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode(errors="replace")
    return out


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def failed_real(rig: Rig) -> str:
    victim = rig.reals[1]
    victim.failing = True
    snapshot = rig.director.snapshot

    def shown_down() -> bool:
        reals = {r.real: r for v in snapshot().virtuals for r in v.reals}
        return reals[victim.address].state == "down" and reals[victim.address].weight == 0

    await until(shown_down)
    return victim.address


async def test_chromium_renders_the_status_page(tmp_path: Path) -> None:
    async with running_director(tmp_path) as rig:
        victim = await failed_real(rig)
        ARTEFACT.parent.mkdir(exist_ok=True)
        ARTEFACT.unlink(missing_ok=True)
        dom = (await chromium(tmp_path / "profile", "--dump-dom", f"--screenshot={ARTEFACT}",
                              "--window-size=1100,250", "--hide-scrollbars",
                              rig.base + "/")).decode()  # fmt: skip
    for real in rig.reals:
        state = "down" if real.address == victim else "up"
        assert f'<td>{real.address}</td><td class="{state}">{state}</td>' in dom
    # Chromium parsed the reason as text: no script element, the markup shown escaped
    assert "<script" not in dom and "&lt;script&gt;" in dom and HOSTILE_REASON not in dom
    width, height = png_size(ARTEFACT.read_bytes())
    assert (width, height) == (1100, 250)
    print(f"status page screenshot: {ARTEFACT} ({width}x{height})")
