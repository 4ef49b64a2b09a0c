"""`tui-monitor` with one test-only addition: an OTLP log event `claude_code.test_needs_input`
says `needs_input` (tool from `tool_name`, reason from `reason`).

OTLP has no event for "waiting for permission": in the real program that comes from the
Claude Code hooks at `POST /hooks/claude-code`, which another branch adds. Until the two are
merged, the e2e test drives needs input through this one mapping; everything else (the
recorder, the receiver, the book, the UI) is the real program. The merge switches the test
to `/hooks/claude-code` posts (PermissionRequest) and to the installed `tui-monitor`.
"""

from __future__ import annotations

import sys

from tui_monitor.cli.commands import main
from tui_monitor.otlp import events
from tui_monitor.otlp.values import Scalar, text
from tui_monitor.sessions.records import Family, SessionSignal

_real = events.state_signal


def _with_test_event(
    family: Family, name: str, session: str, ts: float, attrs: dict[str, Scalar]
) -> SessionSignal | None:
    if name == "test_needs_input":
        tool = text(attrs.get("tool_name"), 128) or None
        reason = text(attrs.get("reason"), 64) or "permission"
        return SessionSignal(family, session, ts, "needs_input", "otlp", name, reason, tool)
    return _real(family, name, session, ts, attrs)


events.state_signal = _with_test_event  # type: ignore[assignment]

if __name__ == "__main__":
    sys.exit(main())
