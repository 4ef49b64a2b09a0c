"""The system chromium, headless, driven by Playwright, and the text of serve's terminal.

Never `playwright install`: Debian's `chromium` (Makefile TEST_TOOLS) is launched by path.
textual.js keeps its xterm.js `Terminal` in a closure; an init script catches it as it is
assigned (`this.terminal = new Terminal(...)` on the object that also holds the websocket
URL), so the test reads xterm's own buffer: the very text the page shows, not a guess from
the bytes on the wire, and no pixels to OCR.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "terminal", {
      value, writable: true, configurable: true, enumerable: true,
    });
    if ("websocket_url" in this) { window.__tuiTerminal = value; }
  },
});
"""

SCREEN_TEXT = """() => {
  const term = window.__tuiTerminal;
  if (!term) { return null; }
  const buffer = term.buffer.active, lines = [];
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    lines.push(line ? line.translateToString(true) : "");
  }
  return lines.join("\\n");
}"""


def need_browser() -> None:
    """Skip (with the reason) where chromium or playwright is missing."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is missing (Debian package chromium; `make test-tools`)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is missing (pip install -e '.[test]')")


def launch(p: Playwright) -> Browser:
    return p.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def open_page(browser: Browser, url: str, width: int = 1200, height: int = 800) -> Page:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.add_init_script(CATCH_TERMINAL)
    page.goto(url)
    return page


def screen_text(page: Page) -> str:
    """The terminal's visible lines ("" until textual.js has made its terminal)."""
    text = page.evaluate(SCREEN_TEXT)
    return text if isinstance(text, str) else ""


def focus_terminal(page: Page) -> None:
    """Keys go where the focus is: xterm.js reads them from its hidden textarea (a person
    clicks the terminal; a click would also reach the app as a mouse event)."""
    page.focus("textarea.xterm-helper-textarea")


def wait_for_screen(
    page: Page, condition: Callable[[str], bool], timeout: float = 30.0, what: str = ""
) -> str:
    """Poll the terminal's text until `condition` holds; fail with the last screen."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen_text(page)
        if condition(text):
            return text
        page.wait_for_timeout(100)  # the page's own clock: lets its websocket run
    pytest.fail(f"timed out waiting for {what or condition}; the page shows:\n{text}")
