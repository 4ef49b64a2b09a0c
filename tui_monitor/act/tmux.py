"""Finding the tmux pane an agent runs in, and going there (`t`).

The pane is found from the process tree, not from tmux's idea of what runs in it: the
agent's ancestors are walked (psutil) up to a process whose parent is a tmux server; that
process is the pane's own (`pane_pid`). The server's socket comes from the server process
itself (its listening Unix socket), so any number of servers (`-L`, `-S`) costs one
`list-panes` on the right one, never a scan of the socket directory (which keeps every dead
server's socket: hundreds on a busy machine).

Going there works only from inside the same server (our `TMUX` names its socket): then
`select-window` + `select-pane` (+ `switch-client` when the pane is in another session).
From anywhere else, the pane and the command that attaches to it are shown instead.
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

TMUX_TIMEOUT = 3.0
"""Seconds a tmux command may take (a wedged server must not wedge the `t` key)."""
FIELDS = ("pane_id", "pane_pid", "pane_tty", "window_index", "pane_index", "session_id")
FORMAT = "\t".join(f"#{{{name}}}" for name in (*FIELDS, "session_name"))
"""The session's name last: it is the only field a person chose (it may hold anything)."""


class TmuxError(Exception):
    """A tmux command failed: the message is for a person."""


@dataclass(frozen=True, slots=True)
class Pane:
    """One tmux pane, as `list-panes -a` says, and the server it belongs to."""

    pane_id: str
    """`%N`: unique in its server, unambiguous as a target whatever the session is called."""
    pid: int
    tty: str
    window: int
    index: int
    session_id: str
    session: str
    socket: str
    """The server's socket path."""

    @property
    def target(self) -> str:
        """`session:window.pane`, as a person reads and types it."""
        return f"{self.session}:{self.window}.{self.index}"

    def attach_command(self) -> str:
        """The shell command that attaches a terminal to this pane (shell-quoted)."""
        return shlex.join(["tmux", *socket_args(self.socket), "attach", "-t", self.target])


@dataclass(frozen=True, slots=True)
class Where:
    """What `t` found: the pane (None: not in tmux), the agent's terminal, what was done."""

    pane: Pane | None
    tty: str | None
    switched: bool = False
    why: str = ""
    """Why it did not switch (empty when it did)."""


def socket_args(socket: str) -> list[str]:
    """`-L NAME` for a socket in tmux's own directory (`[]` for the default one), else
    `-S PATH`."""
    path = Path(socket)
    if path.parent == _socket_dir():
        return [] if path.name == "default" else ["-L", path.name]
    return ["-S", socket]


def _socket_dir() -> Path:
    return Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"


def parse_panes(text: str, socket: str) -> list[Pane]:
    """The panes in `list-panes -a -F FORMAT` output; malformed lines are skipped."""
    panes: list[Pane] = []
    for line in text.splitlines():
        parts = line.split("\t", 6)
        if len(parts) != 7:
            continue
        pane_id, pid, tty, window, index, session_id, session = parts
        try:
            panes.append(
                Pane(pane_id, int(pid), tty, int(window), int(index), session_id, session, socket)
            )
        except ValueError:
            continue
    return panes


def _is_server(proc: psutil.Process) -> bool:
    try:
        return proc.name().startswith("tmux")  # "tmux: server" once it has forked off
    except psutil.Error:
        return False


def pane_process(pid: int) -> tuple[int, psutil.Process] | None:
    """(the pane's own pid, its tmux server) for the process `pid` (itself or an
    ancestor being the pane's process); None outside tmux or once `pid` is gone."""
    try:
        proc = psutil.Process(pid)
        chain = [proc, *proc.parents()]
    except psutil.Error:
        return None
    for child, parent in itertools.pairwise(chain):
        if _is_server(parent) and not _is_server(child):
            return child.pid, parent
    return None


def server_socket(server: psutil.Process) -> str | None:
    """The Unix socket a tmux server listens on (None: unreadable, another user's)."""
    try:
        for conn in server.net_connections(kind="unix"):
            if isinstance(conn.laddr, str) and conn.laddr:
                return conn.laddr
    except psutil.Error:
        return None
    return None


def tmux(socket: str, *args: str) -> str:
    """Run one tmux command against the server at `socket`; its stdout, or TmuxError."""
    exe = shutil.which("tmux")
    if exe is None:
        raise TmuxError("tmux is not installed here")
    try:  # with our TMUX kept: tmux tells "the current client" by it (switch-client)
        done = subprocess.run(
            [exe, "-S", socket, *args],
            capture_output=True,
            text=True,
            timeout=TMUX_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TmuxError(f"tmux {args[0]}: {exc}") from None
    if done.returncode != 0:
        raise TmuxError(f"tmux {args[0]}: {done.stderr.strip() or f'exit {done.returncode}'}")
    return done.stdout


def find_pane(pids: Sequence[int]) -> Pane | None:
    """The pane whose process tree holds the first of `pids` found in one (the root first:
    its children may have been started elsewhere). Raises TmuxError where the server
    cannot be asked."""
    for pid in pids:
        found = pane_process(pid)
        if found is None:
            continue
        pane_pid, server = found
        socket = server_socket(server)
        if socket is None:
            raise TmuxError(f"cannot find the socket of tmux server pid {server.pid}")
        panes = parse_panes(tmux(socket, "list-panes", "-a", "-F", FORMAT), socket)
        return next((p for p in panes if p.pid == pane_pid), None)
    return None


def terminal_of(pid: int) -> str | None:
    """The controlling terminal of `pid` (/dev/pts/N), None without one or once gone."""
    try:
        return psutil.Process(pid).terminal()
    except psutil.Error:
        return None


def our_server() -> tuple[str, str] | None:
    """(socket path, our pane id) when this process runs inside tmux, from TMUX/TMUX_PANE."""
    value = os.environ.get("TMUX", "")
    socket = value.split(",")[0]
    return (socket, os.environ.get("TMUX_PANE", "")) if socket else None


def _same_socket(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a == b


def go_to(pids: Sequence[int]) -> Where:
    """Switch to the pane of the agent whose processes are `pids` (root first) when we run
    in the same tmux server; otherwise say where it is. Raises TmuxError when tmux fails."""
    tty = next((t for t in map(terminal_of, pids[:1]) if t), None)
    pane = find_pane(pids)
    if pane is None:
        return Where(None, tty, why="it does not run inside tmux")
    ours = our_server()
    if ours is None:
        return Where(pane, tty or pane.tty, why="this monitor does not run inside tmux")
    socket, our_pane = ours
    if not _same_socket(socket, pane.socket):
        return Where(pane, tty or pane.tty, why="it runs in another tmux server")
    tmux(pane.socket, "select-window", "-t", pane.pane_id)
    tmux(pane.socket, "select-pane", "-t", pane.pane_id)
    panes = parse_panes(tmux(pane.socket, "list-panes", "-a", "-F", FORMAT), pane.socket)
    mine = next((p for p in panes if p.pane_id == our_pane), None)
    if mine is None or mine.session_id != pane.session_id:
        tmux(pane.socket, "switch-client", "-t", pane.pane_id)
    return Where(pane, tty or pane.tty, switched=True)
