"""Messages from the snapshot source to the app."""

from __future__ import annotations

from textual.message import Message

from ..models import Snapshot, TaskBoard


class SnapshotReady(Message):
    """A new snapshot. State-like: a busy UI handles only the newest one."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        super().__init__()

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotReady)


class TasksReady(Message):
    """Task boards changed between ticks (a file moved). State-like, as snapshots are."""

    def __init__(self, boards: tuple[TaskBoard, ...]) -> None:
        self.boards = boards
        super().__init__()

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TasksReady)
