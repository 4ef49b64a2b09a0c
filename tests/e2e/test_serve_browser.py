"""The real browser: Debian's chromium, headless, opens `serve`'s page, shows the dashboard of
a real recorder, and a key typed in the page reaches the app (the agent screen opens)."""

from __future__ import annotations

import os
import re
import signal
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from recorders import start_recorder, write_config
from serve_proc import serving
from web_page import focus_terminal, launch, need_browser, open_page, wait_for_screen

pytestmark = pytest.mark.slow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
AGENT_ROW = re.compile(r"\bagent\s+napper\b")
"""The agent screen's first detail row."""


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A real process for the [[agents]] rule to find (a distinctive argument to match)."""
    proc = subprocess.Popen(["sleep", "3137"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait(5)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC), "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_dashboard_in_chromium(
    tmp_path: Path, short_dir: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    need_browser()
    from playwright.sync_api import sync_playwright

    sock = short_dir / "ingest.sock"
    write_config(
        Path(os.environ["TUI_MONITOR_CONFIG"]),
        sock,
        interval=0.5,
        extra='[otlp]\nenabled = false\n[[agents]]\nname = "napper"\ncmdline = "sleep 3137"\n',
    )
    db = tmp_path / "history.db"
    recorder = start_recorder(db, sock, tmp_path / "recorder.log")
    try:
        with serving(db) as server, sync_playwright() as p:
            browser = launch(p)
            try:
                page = open_page(browser, server.url)
                assert page.url == server.base  # the token traded for a cookie
                screen = wait_for_screen(
                    page,
                    lambda t: "napper" in t and str(sleeper.pid) in t,
                    what="the dashboard with the sleeper's row",
                )
                assert "ATTACHED" in screen and f"recorder pid {recorder.pid}" in screen
                shot = tmp_path / "dashboard.png"
                page.screenshot(path=str(shot))
                width, height = png_size(shot)
                assert (width, height) == (1200, 800)
                assert shot.stat().st_size > 10_000  # a drawn page, not a blank one
                focus_terminal(page)
                page.keyboard.press("Enter")  # on the selected row: its agent screen
                wait_for_screen(
                    page,
                    # its details (the dashboard's rows say no `agent  napper`; the screen's
                    # process tree has a NAME column too, so that cannot tell them apart)
                    lambda t: "command sleep 3137" in t and AGENT_ROW.search(t) is not None,
                    what="the agent screen",
                )
                page.keyboard.press("t")  # read-only: no terminal, said on screen
                wait_for_screen(page, lambda t: "read-only" in t, what="the read-only notice")
            finally:
                browser.close()
            assert recorder.proc.poll() is None  # the browser never disturbed the recorder
    finally:
        assert recorder.stop(signal.SIGTERM) == 0
