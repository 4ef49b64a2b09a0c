"""The order of cards on a board, shared by the live scan and the history's replay, so a
replayed board lists its cards exactly as the live one did."""

from __future__ import annotations

from ..models import TaskCard

COLUMN_ORDER: dict[str, int] = {"inbox": 0, "assigned": 1, "done": 2, "archive": 3}
PRIORITIES = ("critical", "high", "medium", "normal", "low")
"""Known priorities, most urgent first (matched case-insensitively)."""


def priority_rank(priority: str | None) -> int:
    """0 for critical ... 4 for low; 5 for none or one the board does not know."""
    if priority is None:
        return len(PRIORITIES)
    try:
        return PRIORITIES.index(priority.strip().lower())
    except ValueError:
        return len(PRIORITIES)


def claim_order(card: TaskCard) -> tuple[bool, int, str]:
    """Who keeps the bare id when two files share it: a readable card, the earlier column,
    then the path."""
    return card.problem is not None, COLUMN_ORDER[card.column], card.path


def board_order(card: TaskCard) -> tuple[int, float, float, str]:
    """By column; to do (inbox, assigned) by priority, then oldest first; done and archive
    newest first."""
    column = COLUMN_ORDER[card.column]
    if card.column in ("done", "archive"):
        return column, 0.0, -card.mtime, card.key
    when = card.created_ts if card.created_ts is not None else card.mtime
    return column, float(priority_rank(card.priority)), when, card.key


STATUS_WORDS: dict[str, frozenset[str]] = {
    "inbox": frozenset(("inbox", "new", "todo", "to-do", "open", "pending", "queued", "backlog")),
    "assigned": frozenset(
        (
            "assigned",
            "in_progress",
            "in-progress",
            "in progress",
            "doing",
            "active",
            "wip",
            "working",
            "running",
            "started",
            "claimed",
        )
    ),
    "done": frozenset(
        ("done", "complete", "completed", "finished", "closed", "resolved", "failed", "cancelled")
    ),
}
STATUS_WORDS["archive"] = STATUS_WORDS["done"] | {"archived"}


def status_disagrees(card: TaskCard) -> bool:
    """The file's `status` names another column than its folder (`status: assigned` in
    done/): shown as written, and marked. A word the board does not know is never marked."""
    if card.status is None:
        return False
    word = card.status.strip().lower()
    if word in STATUS_WORDS[card.column]:
        return False
    return any(word in words for words in STATUS_WORDS.values())
