"""Which alert changes become toasts: few enough that they never pile over the event log.

A toast covers the bottom right of the screen (the event log) for seconds. One alert that
flaps (fires, clears, fires...) toasted every change; ten alerts firing in one tick stacked
ten toasts. Now: at most one toast per alert (rule and subject) per WINDOW seconds, the
changes in between summed up in one toast when the window ends; and a tick with more than
BURST changes makes one toast for all of them. The event log and the Alerts card still show
every change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .. import safe
from ..models import AgentEvent
from .fleet import split_key

WINDOW = 60.0
"""Seconds (of tick time) during which one alert toasts at most once."""
BURST = 3
"""More changes than this in one tick make a single toast."""

Severity = Literal["information", "warning", "error"]
RANK: tuple[Severity, ...] = ("information", "warning", "error")


@dataclass(frozen=True, slots=True)
class Toast:
    message: str
    severity: Severity
    firing: bool


def _key(e: AgentEvent) -> tuple[str, str]:
    return (str(e.data.get("rule", "")), str(e.data.get("subject", "")))


def _firing(e: AgentEvent) -> bool:
    return e.data.get("state") == "firing"


def _severity(e: AgentEvent) -> Severity:
    if not _firing(e):
        return "information"
    return "error" if e.level == "critical" else "warning"


class AlertToasts:
    """Feed it each tick's alert changes (`offer`) and the tick's time (`due`)."""

    def __init__(self, window: float = WINDOW, burst: int = BURST) -> None:
        self.window = window
        self.burst = burst
        self._last: dict[tuple[str, str], float] = {}
        """When each alert last made a toast."""
        self._held: dict[tuple[str, str], list[AgentEvent]] = {}
        """Its changes since then, oldest first."""

    def offer(self, changes: list[AgentEvent], now: float) -> list[Toast]:
        """The toasts for this tick's changes (at `now`, epoch seconds)."""
        shown: list[AgentEvent] = []
        for e in changes:
            key = _key(e)
            if now - self._last.get(key, float("-inf")) < self.window:
                self._held.setdefault(key, []).append(e)
                continue
            self._last[key] = now
            self._held.pop(key, None)
            shown.append(e)
        if len(shown) > self.burst:
            worst = max(
                shown, key=lambda e: ("information", "warning", "error").index(_severity(e))
            )
            head = "; ".join(safe.clean(e.message, 80) for e in shown[: self.burst])
            message = f"{len(shown)} alerts changed: {head}; … (all in the event log)"
            return [Toast(message, _severity(worst), any(_firing(e) for e in shown))]
        return [Toast(safe.clean(e.message, 300), _severity(e), _firing(e)) for e in shown]

    def due(self, now: float) -> list[Toast]:
        """One toast per alert whose window ended with changes held: where it is now."""
        out: list[Toast] = []
        for key, held in list(self._held.items()):
            if now - self._last[key] < self.window:
                continue
            del self._held[key]
            self._last[key] = now
            latest = held[-1]
            times = "once" if len(held) == 1 else f"{len(held)} times"
            message = f"{safe.clean(latest.message, 300)} (changed {times} in the last minute)"
            out.append(Toast(message, _severity(latest), False))
        return out


def _who(key: str, limit: int) -> str:
    """An agent key in a toast: its name, and `@host` for another host's."""
    host, name = split_key(key)
    return safe.clean(name, limit) + ("" if host is None else "@" + safe.clean(host, 64))


class WaitingToasts:
    """A toast (and the bell, where `[alerts] bell` is on) as an agent enters `needs input`:
    once per wait, not per tick; an agent that goes on and is stopped again toasts again."""

    def __init__(self) -> None:
        self._waiting: dict[str, str] = {}
        """Agents needing input at the last tick, and what each waits on."""

    def offer(self, waiting: dict[str, str]) -> list[Toast]:
        """This tick's waiting agents (key -> `needs input: Bash`) -> a toast for each new
        wait (a new tool or question is a new wait), in one toast past BURST."""
        new = [(name, what) for name, what in waiting.items() if self._waiting.get(name) != what]
        self._waiting = dict(waiting)
        if len(new) > BURST:
            names = ", ".join(_who(key, 40) for key, _ in new[:BURST])
            return [Toast(f"{len(new)} agents need input: {names}, … (w goes to each)",
                          "warning", True)]  # fmt: skip
        return [
            Toast(f"{_who(key, 60)} {safe.clean(what, 80)} (w goes there)", "warning", True)
            for key, what in new
        ]
