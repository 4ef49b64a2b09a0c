"""`x` saves the snapshot on screen as JSON and `ctrl+s` an SVG, in the working directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from factories import build_app, fleet, history, ready, wait_until

from tui_monitor.export import read_snapshot


def saved(tmp_path: Path, pattern: str) -> list[Path]:
    return sorted(tmp_path.glob(pattern))


async def test_x_exports_the_snapshot_on_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app, _ = build_app(history())
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("x")
        await wait_until(pilot, lambda: saved(tmp_path, "*.json"), what="the export")
        await pilot.press("x")  # same second, same tick: a second name, not an overwrite
        await wait_until(pilot, lambda: len(saved(tmp_path, "*.json")) == 2, what="a 2nd")
        first, second = sorted(saved(tmp_path, "*.json"), key=lambda p: len(p.name))
        assert first.name.startswith("tui-monitor-snapshot-20250115T")
        assert second.name == first.name.replace(".json", "-2.json")
        assert stat.S_IMODE(first.stat().st_mode) == 0o600
        assert app.snapshot is not None
        assert read_snapshot(first) == app.snapshot
        assert f"snapshot saved to {first}" in [n.message for n in app._notifications]


async def test_x_in_an_unwritable_directory_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root writes through a 0500 directory; nobody can create files in /proc.
    locked = Path("/proc") if os.geteuid() == 0 else tmp_path / "locked"
    locked.mkdir(mode=0o500, exist_ok=True)
    before = set(locked.iterdir())
    monkeypatch.chdir(locked)
    app, _ = build_app([*history()[:1]])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("x")
        await wait_until(
            pilot,
            lambda: any("snapshot not saved" in str(n.message) for n in app._notifications),
            what="the error notice",
        )
        assert app.is_running
    assert not [p for p in set(locked.iterdir()) - before if "tui-monitor" in p.name]


async def test_ctrl_s_saves_an_svg_screenshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app, _ = build_app(history())
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: saved(tmp_path, "*.svg"), what="the screenshot")
        (svg,) = saved(tmp_path, "*.svg")
        text = svg.read_text()
        assert text.lstrip().startswith("<svg") and text.rstrip().endswith("</svg>")
        assert fleet()[0].name in text.replace("&#160;", " ")
        assert stat.S_IMODE(svg.stat().st_mode) == 0o600
