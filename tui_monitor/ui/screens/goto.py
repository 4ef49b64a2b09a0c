"""`g`: type a time to replay (14:05, 2026-11-21 14:05, 90m, 2h ago, ...)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

HINT = "14:05 · 2026-11-21 14:05 · 90m (ago) · 2h30m · now    enter: go · esc: cancel"


class GotoScreen(ModalScreen[float | None]):
    """Dismisses with epoch seconds, or None when cancelled; a bad time keeps it open."""

    DEFAULT_CSS = """
    GotoScreen { align: center middle; }
    GotoScreen > Vertical {
        width: 72; max-width: 100%; height: auto; border: round $accent; padding: 0 1;
        background: $surface;
    }
    GotoScreen #goto-error { color: $error; height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="goto.cancel", tooltip="Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Go to a recorded time", "bold"))
            yield Input(placeholder="time, e.g. 14:05 or 30m", id="goto-input")
            yield Static(Text(HINT, "dim"), id="goto-hint")
            yield Static("", id="goto-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from ...when import parse_when

        event.stop()
        try:
            when = parse_when(event.value, datetime.now(UTC))
        except ValueError as exc:
            self.query_one("#goto-error", Static).update(Text(str(exc)))
            return
        self.dismiss(when.timestamp())

    def action_cancel(self) -> None:
        self.dismiss(None)
