"""A board's directory walked into cards; only files whose (inode, size, mtime) changed are
read again, so a rescan of 10,000 unchanged files costs their `stat`s alone.

Layout: `<root>/<state folder>/[<agent>/]<task>.yaml`; in the archive folder a `YYYY-MM/`
level may come first. Hidden entries (`.git`, editor files) are skipped; symlinked folders
are not followed; a symlinked task file is read only when it stays inside the root.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import cast

from ..config import TaskBoardSettings
from ..models import TaskBoard, TaskCard, TaskColumn
from .order import board_order, claim_order
from .parse import error_card, read_card

MAX_DEPTH = 8
"""Folders below the root that are walked; deeper ones are ignored."""
MONTH = re.compile(r"^\d{4}-\d{2}$")
SUFFIXES = (".yaml", ".yml")

StatKey = tuple[int, int, int, int]
"""(device, inode, size, mtime ns) of what was read: unchanged means not read again."""


def _packed(key: StatKey) -> int:
    """A stat key as one int (72 bytes instead of 190 a file; exact, no hashing)."""
    dev, ino, size, mtime_ns = key
    return (((mtime_ns << 64 | ino) << 48 | size) << 32) | (dev & 0xFFFFFFFF)


def is_task_name(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(SUFFIXES)


def stem_of(name: str) -> str:
    return name.rsplit(".", 1)[0]


@dataclass(slots=True)
class _File:
    key: int
    """`_packed` stat key of what was read."""
    card: TaskCard
    order: tuple[int, float, float, str]
    """`board_order(card)`, computed once: a board of 10,000 sorts in milliseconds."""


class BoardScanner:
    """The files of one board, kept between scans; `board()` is the board they make now."""

    def __init__(self, cfg: TaskBoardSettings) -> None:
        self.cfg = cfg
        self.root = os.path.abspath(cfg.root_path())
        folders = cast(dict[TaskColumn, str], cfg.folders())
        self.columns: tuple[TaskColumn, ...] = tuple(folders)
        self._folders = [(c, f.split("/")) for c, f in folders.items()]
        self._files: dict[str, _File] = {}
        self.problem: str | None = None
        self.reads = 0
        """Files read and parsed so far (a rescan of unchanged files reads none)."""

    # -- walking ----------------------------------------------------------------------

    def scan(self) -> None:
        """Walk every state folder; forget files that are gone."""
        if not os.path.isdir(self.root):
            self.problem = f"root {self.root} is not a directory" + (
                "" if os.path.exists(self.root) else " (it does not exist)"
            )
            self._files.clear()
            return
        self.problem = None
        self._real_root = os.path.realpath(self.root)
        seen: set[str] = set()
        for _column, parts in self._folders:
            self._walk("/".join(parts), seen)
        for rel in [r for r in self._files if r not in seen]:
            del self._files[rel]

    def update(self, paths: Iterable[str]) -> bool:
        """Look again at what changed under these absolute paths (the watcher's events);
        False when a full scan is needed instead (the root or a state folder itself)."""
        if self.problem is not None or not os.path.isdir(self.root):
            return False
        self._real_root = os.path.realpath(self.root)
        changed: set[str] = set()
        for path in paths:
            rel = os.path.relpath(path, self.root)
            if rel == ".":
                return False
            if rel.startswith(".."):
                continue
            parts = rel.split("/")
            if any(p.startswith(".") for p in parts):
                continue
            if not any(parts[: len(f)] == f and len(parts) > len(f) for _, f in self._folders):
                if any(f[: len(parts)] == parts for _, f in self._folders):
                    return False  # a state folder (or one above it) came or went
                continue
            self._update_one(path, rel, changed)
        self._drop_moved_away(changed)
        return True

    def _drop_moved_away(self, changed: set[str]) -> None:
        """A file that appeared with the id of a file we still list: look whether that one is
        still there. (An inotify move into a folder created a moment before is reported as a
        creation at once, and its other half only half a second later.)"""
        fresh = {self._files[rel].card.id for rel in changed if rel in self._files}
        if not fresh:
            return
        for rel, f in list(self._files.items()):
            if f.card.id in fresh and rel not in changed:
                try:
                    os.lstat(os.path.join(self.root, rel))
                except FileNotFoundError:
                    del self._files[rel]
                except OSError:
                    pass

    def _update_one(self, path: str, rel: str, changed: set[str]) -> None:
        name = os.path.basename(path)
        self._files.pop(rel, None)
        if not is_task_name(name):  # a folder came, went or moved: what was under it goes
            prefix = rel + "/"
            for gone in [r for r in self._files if r.startswith(prefix)]:
                del self._files[gone]
        try:
            st = os.lstat(path)
        except OSError:
            return  # gone: forgotten above
        if stat.S_ISDIR(st.st_mode) and not is_task_name(name):
            self._walk(rel, changed)
        elif is_task_name(name):
            self._visit(path, rel, name, st, changed)

    def _walk(self, top: str, seen: set[str]) -> None:
        stack = [top]
        while stack:
            rel_dir = stack.pop()
            path = os.path.join(self.root, rel_dir)
            try:
                entries = list(os.scandir(path))
            except FileNotFoundError:
                continue  # a state folder nobody created yet: an empty column
            except OSError as exc:
                self._problem_dir(rel_dir, f"cannot list: {exc.strerror or exc}", seen)
                continue
            place = self._place(rel_dir + "/x")  # the same for every file in the folder
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                rel = f"{rel_dir}/{name}"
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                    if is_dir and not is_task_name(name):
                        if rel.count("/") < MAX_DEPTH:
                            stack.append(rel)
                        continue
                    if not is_task_name(name):
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # vanished between listing and stat
                self._visit(entry.path, rel, name, st, seen, place)

    def _place(self, rel: str) -> tuple[TaskColumn, str | None] | None:
        """(column, agent from the folder) of a file's path relative to the root."""
        parts = rel.split("/")
        for column, folder in self._folders:
            n = len(folder)
            if parts[:n] == folder and len(parts) > n:
                sub = parts[n:-1]
                if column == "archive" and sub and MONTH.match(sub[0]):
                    sub = sub[1:]
                return column, (sub[0] if sub else None)
        return None

    def _visit(
        self,
        path: str,
        rel: str,
        name: str,
        st: os.stat_result,
        seen: set[str],
        place: tuple[TaskColumn, str | None] | None = None,
    ) -> None:
        place = place or self._place(rel)
        if place is None:
            return
        seen.add(rel)
        column, agent = place
        key: StatKey = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        problem = None
        follow = False
        if stat.S_ISLNK(st.st_mode):
            target = os.path.realpath(path)
            if os.path.commonpath([target, self._real_root]) != self._real_root:
                problem = "a symlink out of the board's root"
            else:
                try:
                    st = os.stat(target)
                except OSError:
                    problem = "a broken symlink"
                else:  # the link's inode and what it points at: either changing is a change
                    key = (key[1], st.st_ino, st.st_size, st.st_mtime_ns)
                    path, follow = target, True
        old = self._files.get(rel)
        packed = _packed(key)
        if old is not None and old.key == packed:
            return
        if problem is None and stat.S_ISDIR(st.st_mode):
            problem = "a directory named like a task file"
        elif problem is None and not stat.S_ISREG(st.st_mode):
            problem = "not a regular file"
        stem = stem_of(name)
        if problem is not None:
            card = error_card(
                problem, stem=stem, path=rel, column=column, folder_agent=agent, mtime=st.st_mtime
            )
        else:
            self.reads += 1
            card = read_card(
                path,
                rel=rel,
                stem=stem,
                column=column,
                folder_agent=agent,
                mtime=st.st_mtime,
                max_bytes=self.cfg.max_file_size,
                follow=follow,
            )
        self._files[rel] = _File(packed, card, board_order(card))

    def _problem_dir(self, rel: str, problem: str, seen: set[str]) -> None:
        place = self._place(rel + "/x")
        if place is None:
            return
        seen.add(rel)
        column, agent = place
        name = rel.rsplit("/", 1)[-1]
        card = error_card(problem, stem=name, path=rel + "/", column=column, folder_agent=agent,
                          mtime=0.0)  # fmt: skip
        self._files[rel] = _File(0, card, board_order(card))

    # -- the board --------------------------------------------------------------------

    def board(self, version: int = 0) -> TaskBoard:
        """The cards in board order: by column; to do by priority then age; done newest first.
        A second file with an id already taken gets the key `id@path`."""
        files = sorted(self._files.values(), key=attrgetter("order"))
        cards = [f.card for f in files]
        seen: set[str] = set()
        taken: set[str] = set()
        for card in cards:
            (taken if card.id in seen else seen).add(card.id)
        if taken:
            renamed: dict[int, TaskCard] = {}
            kept: set[str] = set()
            for card in sorted((c for c in cards if c.id in taken), key=claim_order):
                if card.id in kept:
                    renamed[id(card)] = card.model_copy(update={"key": f"{card.id}@{card.path}"})
                kept.add(card.id)  # the first keeps the bare id
            cards = sorted((renamed.get(id(c), c) for c in cards), key=board_order)
        return TaskBoard.model_construct(
            name=self.cfg.name,
            root=self.root,
            columns=self.columns,
            cards=tuple(cards),
            problem=self.problem,
            version=version,
        )
