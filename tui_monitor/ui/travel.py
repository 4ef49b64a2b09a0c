"""Time travel: a recorded tick shown through the same widgets as live ones (`h`, `[` `]`,
`{` `}`, `g`, `e`, escape), the part of the app that steps through the history."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from textual.app import App

from .. import fmt
from ..config import Settings
from ..models import Snapshot
from ..source import SnapshotSource
from .monitor import Step
from .view import View


class TimeTravel(App[None]):
    """The app's replay state and its moves; MonitorApp sets the attributes below."""

    settings: Settings
    source: SnapshotSource
    utc: bool
    live: View
    """What the ticks as they arrive add up to."""
    replay: View | None
    """A recorded moment rebuilt from the history, shown instead of `live` (`h`)."""
    replay_tick: int | None
    replay_note: str | None
    """Why the moment shown is not the one asked for (`g`, `--at`), for the header."""
    _replay_lock: asyncio.Lock
    _shown: Snapshot | None

    @property
    def view(self) -> View:
        return self.replay if self.replay is not None else self.live

    @property
    def snapshot(self) -> Snapshot | None:
        """The snapshot on screen: the replayed one, or the live one last rendered."""
        return self.replay.snapshot if self.replay is not None else self._shown

    @property
    def replaying(self) -> bool:
        return self.replay is not None

    def _history_path(self) -> Path | None:
        db = self.source.db
        return db if db is not None and db.exists() else None

    async def replay_at(self, ts: float, how: Step = "at") -> bool:
        """Show the recorded tick at or before `ts` (or strictly before/after it, or the first
        at or after it). False, with a notice, when there is none."""
        async with self._replay_lock:
            return await self._go(ts, how)

    async def replay_step(self, step: int) -> None:
        """One tick back (-1) or forward (+1); from live, `[` starts at the tick before."""
        async with self._replay_lock:  # held, so a held-down key steps once per press
            current = self.snapshot
            if current is not None:
                forward: Step = "next" if self.replay is not None else "at"
                await self._go(current.ts.timestamp(), "prev" if step < 0 else forward)

    async def replay_jump(self, seconds: float) -> None:
        """A minute back or forward; forward past the newest tick shows the newest."""
        async with self._replay_lock:
            current = self.snapshot
            if current is None:
                return
            ts = current.ts.timestamp()
            if seconds < 0 or self.replay is None:
                await self._go(ts + seconds, "at")
                return
            tick = self.replay_tick
            if not await self._go(ts + seconds, "at") or self.replay_tick == tick:
                await self._go(ts, "next")

    async def replay_problem(self) -> None:
        """Jump to the tick showing the next error or alert after the moment shown."""
        from ..store import frames

        async with self._replay_lock:
            db = self._history_path()
            current = self.snapshot
            if db is None or current is None:
                return
            ms = await asyncio.to_thread(frames.next_problem, db, current.ts)
            if ms is None:
                self.notify("no later error or alert in the history", timeout=3)
                return
            await self._go(ms / 1000, "first_after")

    async def _go(self, ts: float, how: Step) -> bool:
        from ..store import frames

        db = self._history_path()
        if db is None:
            self.notify("no history to travel through", severity="warning", timeout=4)
            return False
        try:
            tick = await asyncio.to_thread(frames.find_tick, db, ts, how)
            if tick is None and how == "at":  # before the first tick: show the first
                tick = await asyncio.to_thread(frames.find_tick, db, ts, "first_after")
            if tick is None:
                where = {"prev": "older", "next": "newer"}.get(how, "recorded")
                self.notify(f"no {where} tick in the history", timeout=3)
                return False
            view = await asyncio.to_thread(self._load_view, db, tick)
        except Exception as exc:  # a damaged or vanished file: say so, stay where we are
            self.notify(f"replay: {exc}", severity="error", timeout=8, markup=False)
            return False
        if view is None or view.snapshot is None:
            return False
        self.replay, self.replay_tick = view, tick
        self.replay_note = None
        if how == "at":  # a time someone asked for: say if what is shown is not at it
            self._say_instead(ts, view.snapshot.ts)
        self._show_view()
        return True

    def _say_instead(self, asked: float, shown: datetime) -> None:
        from ..when import NEAR_SECONDS, shown_instead

        zone = UTC if self.utc else None
        when = datetime.fromtimestamp(asked, UTC).astimezone(zone)
        slack = max(NEAR_SECONDS, 3 * self.settings.interval)  # a tick is that close
        note = shown_instead(when, shown.astimezone(zone), slack=slack)
        if note is not None:
            self.replay_note = f"asked {when:%m-%d %H:%M:%S}, none recorded"
            self.notify(note, title="replay", severity="warning", timeout=10, markup=False)

    def _load_view(self, db: Path, tick: int) -> View | None:
        from .replay import load_view

        return load_view(db, tick, self.settings)

    def go_live(self) -> None:
        if self.replay is None:
            return
        self.replay = self.replay_tick = self.replay_note = None
        # The newest live tick at once: the one last rendered is from before the replay
        # (the header said LIVE over it until the next tick came).
        self._shown = self.live.snapshot
        self._show_view()

    def _show_view(self) -> None:
        show = getattr(self.screen, "show_view", None)
        if show is not None:
            show()

    def replay_label(self) -> str:
        """The header's detail while replaying: the moment's date and how far back it is."""
        snap = self.snapshot
        if self.replay is None or snap is None:
            return ""
        shown = snap.ts if self.utc else snap.ts.astimezone()
        live = self.live.snapshot
        back = "" if live is None else fmt.duration(live.ts.timestamp() - snap.ts.timestamp())
        # Most telling first: the header cuts it short on narrow terminals.
        note = f" · {self.replay_note}" if self.replay_note else ""
        if not back:
            return f"{shown:%Y-%m-%d}{note}"
        return f"{back} ago{note} · {shown:%Y-%m-%d} · esc: live"
