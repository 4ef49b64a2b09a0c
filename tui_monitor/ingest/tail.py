"""JSONL spool files, for agents that cannot reach the ingest socket.

Each complete line goes, as bytes without its newline, to the same handler as a socket line;
JSON is parsed there, not here. Files are polled (lstat, fstat, pread) instead of watched with
inotify: polling works on every filesystem (NFS, overlayfs and bind mounts, where inotify
misses changes), needs no dependency, and costs a few syscalls per file every half second.

Offsets survive restarts in a small JSON state file, keyed by path and checked against the
file's identity (st_dev, st_ino) and a hash of its first bytes, so a restart neither re-reads
nor skips, and a new file that happens to reuse an old inode is still read from the start.
A rotated file is drained through the descriptor we already hold before its successor is read.

A spool file is a way into the recorder, so only regular files we own are read: symlinks,
FIFOs, devices, files of other uids and files other users may write are refused, each with one
line, once. Group-writable files are accepted only when the group is our own primary group:
user-private-group systems (umask 002) create every file 0664, and nobody else is in it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType

from .spool import (
    HEAD,
    STATE_MAX,
    Saved,
    digest,
    dir_refusal,
    parse_state,
    refusal,
    same_file,
    write_atomic,
)

_CHUNK = 65536
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
COUNTERS = (
    "lines", "blank", "too_long", "unterminated", "refused", "errors",
    "truncations", "rotations", "vanished", "state_errors",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TailLine:
    """One complete line of a spool file."""

    source: str
    data: bytes
    """Without the newline and without one trailing carriage return."""


@dataclass(frozen=True, slots=True)
class TailProblem:
    """A refused file, a rejected line or a state-file problem: one line for the user."""

    source: str
    reason: str


TailItem = TailLine | TailProblem


@dataclass(eq=False)
class _File:
    """A file we hold open; `buf` holds the bytes of its unfinished line, from `offset`."""

    path: str
    fd: int
    dev: int
    ino: int
    pos: int = 0
    buf: bytearray = field(default_factory=bytearray)
    skipping: bool = False  # inside a line already rejected as too long
    head_len: int = 0
    head: str = ""
    last_data: float = 0.0

    @property
    def offset(self) -> int:
        return self.pos - len(self.buf)

    def saved(self) -> Saved:
        return Saved(self.dev, self.ino, self.offset, self.skipping, self.head_len, self.head)


@dataclass
class _Budget:
    lines: int
    bytes: int


class Tailer:
    """Follows spool files; `poll` from one worker thread, `save` once its lines are queued."""

    def __init__(
        self,
        spool_dirs: Sequence[Path],
        files: Sequence[Path],
        state: Path,
        *,
        max_line: int = 65536,
        max_lines: int = 10000,
        max_bytes: int = 16 << 20,
        max_files: int = 256,
        retire_grace: float = 2.0,
    ) -> None:
        if min(max_line, max_lines, max_bytes, max_files) < 1 or retire_grace < 0:
            raise ValueError("Tailer limits must be positive")
        self._dirs = [str(Path(d).expanduser()) for d in spool_dirs]
        self._explicit = [str(Path(f).expanduser()) for f in files]
        self._state = Path(state)
        self._max_line = max_line
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._max_files = max_files
        self._grace = retire_grace
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._active: dict[str, _File] = {}
        self._retired: dict[str, list[_File]] = {}  # rotated away, drained before the path
        self._pending: dict[str, Saved] = {}  # offsets of paths not open right now
        self._reported: dict[str, tuple[object, ...]] = {}
        self._backlog: list[TailItem] = []
        self._loaded = False
        self._closed = False
        self._last_saved: bytes | None = None
        self._save_error: str | None = None
        self._turn = 0
        self._lock = threading.Lock()

    def __enter__(self) -> Tailer:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def poll(self) -> list[TailItem]:
        """New complete lines and problems, at most `max_lines` of them; blocking file I/O."""
        with self._lock:
            if self._closed:
                return []
            out: list[TailItem] = []
            if not self._loaded:
                self._loaded = True
                self._load_state(out)
            out += self._backlog
            self._backlog.clear()
            found, seen, listed = self._discover(out)
            self._reported = {k: v for k, v in self._reported.items() if k.rstrip("\0") in seen}
            self._reconcile(found, listed, out)
            self._read_all(out)
            return out

    def save(self) -> None:
        """Persist the offsets of lines handed out so far; a failure is reported by `poll`."""
        with self._lock:
            if not self._loaded:
                return  # nothing read yet: keep the state file as it is
            files = {p: f.saved() for p, f in self._active.items()}
            for p, s in self._pending.items():
                files.setdefault(p, s)
            doc = {"version": 1, "files": {p: asdict(s) for p, s in sorted(files.items())}}
            data = json.dumps(doc, separators=(",", ":")).encode()
            if data == self._last_saved:
                return
            try:
                write_atomic(self._state, data)
            except OSError as e:
                where = f"{e.filename}: " if e.filename else ""
                reason = f"cannot save offsets ({where}{e.strerror or e})"
                if reason != self._save_error:
                    self.counters["errors"] += 1
                    self._backlog.append(TailProblem(str(self._state), reason))
                self._save_error = reason
                return
            self._last_saved, self._save_error = data, None

    def close(self) -> None:
        """Close every file; a later `save` still records where each one stopped."""
        with self._lock:
            for path, f in self._active.items():
                self._pending[path] = f.saved()
                _close(f)
            for olds in self._retired.values():
                for f in olds:
                    _close(f)
            self._active.clear()
            self._retired.clear()
            self._closed = True

    # -- finding files -------------------------------------------------------------------

    def _discover(
        self, out: list[TailItem]
    ) -> tuple[dict[str, os.stat_result], set[str], set[str]]:
        """lstat of every candidate path; also the paths looked at and the dirs listed."""
        found: dict[str, os.stat_result] = {}
        seen: set[str] = set()
        listed: set[str] = set()
        for d in self._dirs:
            seen.add(d)
            try:
                st = os.lstat(d)
                reason = dir_refusal(st)
                if reason is not None:
                    self._refuse(out, d, reason, st)
                    continue
                with os.scandir(d) as it:
                    names = sorted(
                        e.name for e in it if e.name.endswith(".jsonl") and e.name[0] != "."
                    )
            except FileNotFoundError:
                continue  # may appear later
            except OSError as e:
                self._refuse(out, d, f"cannot list spool directory: {e.strerror}", error=True)
                continue
            listed.add(d)
            self._reported.pop(d, None)
            self._reported.pop(d + "\0", None)
            for name in names:
                path = os.path.join(d, name)
                with contextlib.suppress(FileNotFoundError):
                    found[path] = os.lstat(path)
                    seen.add(path)
        for path in self._explicit:
            seen.add(path)
            try:
                found[path] = os.lstat(path)
            except FileNotFoundError:
                continue
            except OSError as e:
                self._refuse(out, path, f"cannot stat: {e.strerror}", error=True)
        return found, seen, listed

    def _reconcile(
        self, found: dict[str, os.stat_result], listed: set[str], out: list[TailItem]
    ) -> None:
        now = time.monotonic()
        for path, f in list(self._active.items()):
            st = found.get(path)
            if st is not None and (st.st_dev, st.st_ino) == (f.dev, f.ino):
                reason = refusal(st)
                if reason is not None:  # chmod/chown while open: stop, keep the offset
                    del self._active[path]
                    self._pending[path] = f.saved()
                    _close(f)
                    self._refuse(out, path, reason, st)
                continue
            del self._active[path]
            self.counters["rotations" if st is not None else "vanished"] += 1
            f.last_data = now
            self._retired.setdefault(path, []).append(f)
        for path, st in found.items():
            if path in self._active:
                continue
            reason = refusal(st)
            if reason is not None:
                self._refuse(out, path, reason, st)
                continue
            self._reported.pop(path, None)
            self._start(path, st, out)
        for path in list(self._pending):
            parent = os.path.dirname(path)
            gone = path not in found and path not in self._explicit
            if gone and (parent in listed or parent not in self._dirs):
                del self._pending[path]

    def _start(self, path: str, st: os.stat_result, out: list[TailItem]) -> None:
        ident = (st.st_dev, st.st_ino)
        if any((f.dev, f.ino) == ident for f in self._active.values()):
            return  # the same file under a second name: read it once
        for olds in self._retired.values():
            for f in olds:
                if (f.dev, f.ino) == ident:  # renamed to another name we follow
                    olds.remove(f)
                    f.path = path
                    self._active[path] = f
                    return
        if len(self._active) >= self._max_files:
            self._refuse(out, path, f"refused: already following {self._max_files} files", st)
            return
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno == errno.ELOOP:  # became a symlink since lstat
                self._refuse(out, path, "refused: symbolic link", st)
            else:
                self._refuse(out, path, f"cannot open: {e.strerror}", error=True)
            return
        try:
            fst = os.fstat(fd)
            reason = refusal(fst)
            if (fst.st_dev, fst.st_ino) != ident:
                reason = "refused: replaced while being opened"
            f = _File(path, fd, fst.st_dev, fst.st_ino)
            saved = self._pending.pop(path, None)
            if reason is None and saved is not None and same_file(fd, fst, saved):
                f.pos, f.skipping = saved.offset, saved.skip
                f.head_len, f.head = saved.head_len, saved.head
        except OSError as e:
            os.close(fd)
            self._refuse(out, path, f"cannot read: {e.strerror}", error=True)
            return
        if reason is not None:
            os.close(fd)
            self._refuse(out, path, reason, st)
            return
        self._active[path] = f

    def _refuse(
        self,
        out: list[TailItem],
        path: str,
        reason: str,
        st: os.stat_result | None = None,
        *,
        error: bool = False,
    ) -> None:
        """Report once per path: a refusal until the file changes (inode, mode, owner), an
        I/O error while the path exists (retried every poll, reported once)."""
        sig: tuple[object, ...] = (reason,)
        if st is not None:
            sig += (st.st_dev, st.st_ino, st.st_mode, st.st_uid, st.st_gid)
        key = path + "\0" if error else path  # NUL never occurs in a path
        if self._reported.get(key) == sig:
            return
        self._reported[key] = sig
        self.counters["errors" if error else "refused"] += 1
        out.append(TailProblem(path, reason))

    # -- reading -------------------------------------------------------------------------

    def _read_all(self, out: list[TailItem]) -> None:
        budget = _Budget(self._max_lines, self._max_bytes)
        paths = sorted(self._active.keys() | self._retired.keys())
        if not paths:
            return
        self._turn = (self._turn + 1) % len(paths)  # no file gets the whole budget every time
        now = time.monotonic()
        for path in paths[self._turn :] + paths[: self._turn]:
            if budget.lines <= 0 or budget.bytes <= 0:
                return
            olds = self._retired.get(path, [])
            drained = True
            for f in list(olds):
                result = self._guarded_read(f, out, budget)
                if result is None:
                    continue
                done, got = result
                if not done:
                    drained = False
                    break
                if got:
                    f.last_data = now
                elif now - f.last_data >= self._grace:  # the writer has moved on
                    olds.remove(f)
                    self._finish(f, out)
            if not olds:
                self._retired.pop(path, None)
            active = self._active.get(path)
            if drained and active is not None:
                self._guarded_read(active, out, budget)

    def _guarded_read(
        self, f: _File, out: list[TailItem], budget: _Budget
    ) -> tuple[bool, bool] | None:
        """`_read`, or None when an I/O error closed the file (reported once)."""
        try:
            result = self._read(f, out, budget)
            if self._active.get(f.path) is f and f.head_len < min(f.pos, HEAD):
                data = os.pread(f.fd, HEAD, 0)
                f.head_len, f.head = len(data), digest(data)
            return result
        except OSError as e:
            if self._active.get(f.path) is f:
                del self._active[f.path]
                self._pending[f.path] = f.saved()
            else:
                self._retired[f.path].remove(f)
            _close(f)
            self._refuse(out, f.path, f"cannot read: {e.strerror}", error=True)
            return None

    def _read(self, f: _File, out: list[TailItem], budget: _Budget) -> tuple[bool, bool]:
        """Hand out f's complete lines: (read to its current end, read any bytes)."""
        size = os.fstat(f.fd).st_size
        if size < f.pos:
            self.counters["truncations"] += 1
            f.pos, f.skipping, f.head_len, f.head = 0, False, 0, ""
            f.buf.clear()
        got = False
        while True:
            self._split(f, out, budget)
            if budget.lines <= 0 or budget.bytes <= 0:
                return False, got
            if f.pos >= size:
                return True, got
            chunk = os.pread(f.fd, min(_CHUNK, size - f.pos), f.pos)
            if not chunk:
                return True, got  # truncated under us: seen next poll
            got = True
            f.pos += len(chunk)
            budget.bytes -= len(chunk)
            if f.skipping:
                nl = chunk.find(b"\n")
                if nl < 0:
                    continue
                chunk, f.skipping = chunk[nl + 1 :], False
            f.buf += chunk

    def _split(self, f: _File, out: list[TailItem], budget: _Budget) -> None:
        buf, start = f.buf, 0
        while budget.lines > 0:
            nl = buf.find(b"\n", start)
            if nl < 0:
                if len(buf) - start > self._max_line + 1:  # too long even if a CR follows
                    self._too_long(f, out)
                    budget.lines -= 1
                    start, f.skipping = len(buf), True
                break
            self._emit(f, buf[start:nl], out)
            budget.lines -= 1
            start = nl + 1
        if start:
            del buf[:start]

    def _emit(self, f: _File, line: bytes | bytearray, out: list[TailItem]) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self._max_line:
            self._too_long(f, out)
        elif line:
            self.counters["lines"] += 1
            out.append(TailLine(f.path, bytes(line)))
        else:
            self.counters["blank"] += 1

    def _too_long(self, f: _File, out: list[TailItem]) -> None:
        self.counters["too_long"] += 1
        out.append(TailProblem(f.path, f"line longer than {self._max_line} bytes"))

    def _finish(self, f: _File, out: list[TailItem]) -> None:
        """Close a rotated-away file; a last line without newline is handed out, not lost."""
        if f.buf and not f.skipping:
            self.counters["unterminated"] += 1
            self._emit(f, f.buf, out)
        _close(f)

    # -- state file ----------------------------------------------------------------------

    def _load_state(self, out: list[TailItem]) -> None:
        try:
            fd = os.open(self._state, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        except OSError as e:
            return self._state_problem(out, f"cannot be read ({e.strerror})")
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return self._state_problem(out, "is not a regular file")
            raw = fh.read(STATE_MAX + 1)
        try:
            self._pending = parse_state(raw)
        except ValueError as e:
            self._state_problem(out, str(e))

    def _state_problem(self, out: list[TailItem], what: str) -> None:
        self.counters["state_errors"] += 1
        reason = f"state file {what}; reading every spool file from the start"
        out.append(TailProblem(str(self._state), reason))


def _close(f: _File) -> None:
    with contextlib.suppress(OSError):
        os.close(f.fd)
    f.fd = -1
