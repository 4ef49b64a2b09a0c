"""The live boards: watchdog's inotify observer says what changed, the scanner looks again.

watchdog's observer threads block in inotify reads (no polling; ~0 CPU while nothing moves)
and hand paths to the event loop. Changes are debounced on the loop: an update waits until
QUIET seconds pass without a new change (at most MAX_DELAY), so a `git pull` moving 200 files
is one update. A full rescan every `rescan` seconds catches what a filesystem without inotify
(NFS, some FUSE mounts) never reports; it only `stat`s unchanged files.

Subscribers (the UI) get every new set of boards at once; the sampler takes the boards, the
history rows and the events once per tick (`take`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from ..aio import wait_set
from ..config import TaskBoardSettings
from ..models import AgentEvent, TaskBoard, TaskChange
from .diff import ALL, diff
from .scan import BoardScanner

log = logging.getLogger(__name__)

QUIET = 0.025
"""Seconds without a new change before an update is made."""
MAX_DELAY = 0.5
WATCH_START = 5.0
"""Seconds to wait for the inotify watches to be in place at start (10,000 files: ~20 ms)."""
"""... but never later than this after the first change (a long `git checkout`)."""

Subscriber = Callable[[tuple[TaskBoard, ...]], None]


class TaskWatcher:
    """Every configured board, scanned, watched and diffed; read-only on the files."""

    def __init__(
        self, boards: Iterable[TaskBoardSettings], seed: dict[str, TaskBoard] | None = None
    ) -> None:
        self.scanners = {cfg.name: BoardScanner(cfg) for cfg in boards}
        self._shown: dict[str, TaskBoard] = {}
        """What the history and the events last heard of each board (the stored board at
        start: a restart reports only what really changed meanwhile)."""
        self._seed = dict(seed or {})
        self.boards: tuple[TaskBoard, ...] = ()
        self.version = 0
        self.updates = 0
        """Board updates published (a debounced burst of changes counts once)."""
        self._changes: dict[tuple[str, str], TaskChange] = {}
        self._events: list[AgentEvent] = []
        self._paths: dict[str, set[str]] = {}
        self._full: set[str] = set()
        self._wake = asyncio.Event()
        self._subscribers: list[Subscriber] = []
        self._observer: Any = None
        self._watches: dict[str, Any] = {}
        self._rewatch: set[str] = set()
        self.scanned = asyncio.Event()
        """Set once every board has had its first scan."""
        self.watching = asyncio.Event()
        """Set once the watches are in place (and the gap before them rescanned)."""

    def subscribe(self, fn: Subscriber) -> None:
        self._subscribers.append(fn)

    def take(self) -> tuple[tuple[TaskBoard, ...], tuple[TaskChange, ...], list[AgentEvent]]:
        """For the next tick: the boards now, and the history rows and events since the last
        tick (a task changed twice in one tick is stored once, as it is at the tick)."""
        changes, self._changes = tuple(self._changes.values()), {}
        events, self._events = self._events, []
        return self.boards, changes, events

    # -- running ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Scan, watch and keep the boards current until `stop` is set."""
        loop = asyncio.get_running_loop()
        await self._update(set(self.scanners), {})
        self.scanned.set()
        await asyncio.to_thread(self._start_observer, loop)
        # A file that moved between the first scan and the watches taking hold sent no event
        # we heard: one more look (stat only) closes the gap.
        await self._update(set(self.scanners), {})
        self.watching.set()
        due = {name: time.monotonic() + s.cfg.rescan for name, s in self.scanners.items()}
        try:
            while not stop.is_set():
                wait = max(
                    0.0, min(due.values(), default=time.monotonic() + 3600) - time.monotonic()
                )
                waker = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waker, stopper}, timeout=wait, return_when="FIRST_COMPLETED")
                for f in (waker, stopper):
                    f.cancel()
                if stop.is_set():
                    break
                if self._wake.is_set():
                    await self._settle()
                now = time.monotonic()
                for name, at in due.items():
                    if at <= now:
                        self._full.add(name)
                        due[name] = now + self.scanners[name].cfg.rescan
                full, self._full = self._full, set()
                paths, self._paths = self._paths, {}
                if full or paths:
                    await self._update(full, paths)
                    if full:  # a root that came back can be watched again
                        await asyncio.to_thread(self._watch_missing)
        finally:
            await asyncio.to_thread(self._stop_observer)

    async def _settle(self) -> None:
        """Wait until changes stop arriving for QUIET seconds (at most MAX_DELAY)."""
        first = time.monotonic()
        while True:
            self._wake.clear()
            left = MAX_DELAY - (time.monotonic() - first)
            if left <= 0:
                return
            if not await wait_set(self._wake, min(QUIET, left)):
                return

    async def _update(self, full: set[str], paths: dict[str, set[str]]) -> None:
        now = datetime.now(UTC)
        results = await asyncio.to_thread(self._rescan, full, paths, now)
        if not results:
            return
        self.version += 1
        boards = dict((b.name, b) for b in self.boards)
        for board, changes, events in results:
            board = board.model_copy(update={"version": self.version})
            boards[board.name] = board
            for change in changes:
                if change.key == ALL:  # a whole new board: its cards' earlier changes are moot
                    self._changes = {
                        k: v for k, v in self._changes.items() if k[0] != board.name or k[1] == ""
                    }
                self._changes[(change.board, change.key)] = change
            self._events.extend(events)
        self.boards = tuple(boards[name] for name in self.scanners if name in boards)
        self.updates += 1
        for fn in list(self._subscribers):
            try:
                fn(self.boards)
            except Exception:  # a broken subscriber must not stop the watcher
                log.exception("task board subscriber %r failed", fn)

    def _rescan(
        self, full: set[str], paths: dict[str, set[str]], now: datetime
    ) -> list[tuple[TaskBoard, list[TaskChange], list[AgentEvent]]]:
        """In a thread: look again, and diff each board that changed against what the
        history last heard."""
        out = []
        for name, scanner in self.scanners.items():
            if name in full or (name in paths and not scanner.update(paths[name])):
                scanner.scan()
            elif name not in paths:
                continue
            board = scanner.board()
            old = self._shown[name] if name in self._shown else self._seed.pop(name, None)
            changes, events = diff(old, board, now)
            if not changes and name in self._shown:
                continue
            self._shown[name] = board
            out.append((board, changes, events))
        return out

    # -- watchdog (its threads call `_on_event`) ----------------------------------------

    def _start_observer(self, loop: asyncio.AbstractEventLoop) -> None:
        from watchdog.observers import Observer

        self._loop = loop
        observer = Observer()
        observer.daemon = True
        self._observer = observer
        self._watch_missing()
        observer.start()
        # inotify watches are added by each emitter's thread as it starts: wait for them, so
        # the rescan that follows sees everything no event will report.
        deadline = time.monotonic() + WATCH_START
        for emitter in list(getattr(observer, "emitters", ())):
            while getattr(emitter, "_inotify", True) is None and time.monotonic() < deadline:
                time.sleep(0.005)

    def _watch_missing(self) -> None:
        """Watch every board root not watched yet (one missing at start may exist now)."""
        from watchdog import events as ev

        observer = self._observer
        if observer is None:
            return
        wanted = [ev.FileCreatedEvent, ev.FileDeletedEvent, ev.FileMovedEvent,
                  ev.FileModifiedEvent, ev.FileClosedEvent, ev.DirCreatedEvent,
                  ev.DirDeletedEvent, ev.DirMovedEvent]  # fmt: skip
        lost = getattr(ev, "EventsLostEvent", None)
        if lost is not None:
            wanted.append(lost)
        for name in list(self._rewatch):
            self._rewatch.discard(name)
            with contextlib.suppress(Exception):
                observer.unschedule(self._watches.pop(name))
        for name, scanner in self.scanners.items():
            if name in self._watches or scanner.problem is not None:
                continue
            handler = _Handler(self, name)
            try:
                self._watches[name] = observer.schedule(
                    handler, scanner.root, recursive=True, event_filter=wanted
                )
            except OSError as exc:  # e.g. the inotify watch limit: the rescans still run
                log.warning("task board %s: cannot watch %s: %s", name, scanner.root, exc)

    def _stop_observer(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            with contextlib.suppress(Exception):
                observer.stop()
                observer.join(timeout=2)

    def _on_event(self, board: str, event: Any) -> None:
        """On the loop: remember what changed and wake the runner."""
        kind = getattr(event, "event_type", "")
        if kind == "events_lost":
            self._full.add(board)
        elif kind == "deleted" and event.src_path == self.scanners[board].root:
            self._full.add(board)
            self._rewatch.add(board)  # its inotify watch died with it
        else:
            paths = self._paths.setdefault(board, set())
            for path in (event.src_path, getattr(event, "dest_path", "")):
                if path:
                    paths.add(path if isinstance(path, str) else path.decode("utf-8", "replace"))
        self._wake.set()


class _Handler:
    """A watchdog event handler that forwards to the loop (it runs on watchdog's thread)."""

    def __init__(self, watcher: TaskWatcher, board: str) -> None:
        self.watcher = watcher
        self.board = board

    def dispatch(self, event: Any) -> None:
        loop = self.watcher._loop
        with contextlib.suppress(RuntimeError):  # the loop closed while shutting down
            loop.call_soon_threadsafe(self.watcher._on_event, self.board, event)
