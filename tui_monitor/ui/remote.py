"""`enter` on another host's agent: that host's own dashboard over `ssh -t`, with our app
suspended, so replay, the agent screen and every key work there exactly as they do there; `q`
there brings the person back here, with a toast when ssh failed.

Decisions:
- A host no longer configured, or one that is unreachable (ssh just failed to reach it), gets
  a toast and nothing else: no terminal handed over to a hang or a password prompt for a host
  we know is down.
- A read-only dashboard opens the remote one read-only (`--read-only` there too).
- A dashboard with no terminal to hand over (`serve` in a browser) says how to do it by hand;
  a headless one (tests) runs ssh with no terminal at all.
- Our loop keeps running meanwhile (a live dashboard's recorder keeps recording): ssh runs in
  a thread, our paints are held (`batch_update`) and our bell kept quiet (`Monitor.away`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .. import safe
from ..fleet import link
from ..fleet.settings import HostConfig
from ..models import Snapshot
from .fleet import key_label, split_key
from .monitor import monitor_of

if TYPE_CHECKING:
    from textual.app import App

    from ..config import Settings

ERR_KEPT = 4096
"""Bytes of ssh's own stderr read back for the toast (its last line says why)."""
SSH_FAILED = 255
"""ssh's exit status for its own failures (connection refused, host key, auth)."""


def control_dir(settings: Settings) -> Path | None:
    """The directory of ssh's shared connections (ControlPath), the one the fleet's links use,
    so `enter` reuses their connection (it opens at once, with no second login); None where
    that directory cannot be made private (then ssh connects anew)."""
    return link.control_dir() if settings.fleet.control_persist > 0 else None


def argv(settings: Settings, config: HostConfig) -> list[str]:
    """The ssh command line running `config`'s dashboard there, with a terminal."""
    extra = ("--read-only",) if settings.ui.read_only else ()
    remote = config.remote_command(*extra)
    return config.ssh_argv(settings.fleet, control_dir(settings), remote, tty=True)


def refusal(
    settings: Settings, snap: Snapshot | None, key: str
) -> tuple[HostConfig | None, str | None]:
    """The host's config to open `key`'s dashboard on, or why not (a toast's words)."""
    host, _ = split_key(key)
    if host is None:
        return None, f"{key_label(key)} runs on this machine"
    shown = safe.name(host, 64)
    config = next((h for h in settings.hosts if h.name == host), None)
    if config is None:
        return None, f"{shown} is no longer configured ([[hosts]] or --host): nothing to open"
    status = None if snap is None else next((h for h in snap.hosts if h.name == host), None)
    if status is not None and status.state == "unreachable":
        why = safe.clean(status.reason or "", 120)
        return None, f"{shown} is unreachable{': ' + why if why else ''}: not opening it"
    return config, None


def run_ssh(command: list[str], terminal: bool) -> tuple[int, str]:
    """Run ssh to its end (blocking: call in a thread): its exit status and the last line of
    its own stderr (a remote program's errors reach the terminal through the pty instead)."""
    with tempfile.TemporaryFile() as err:
        where = None if terminal else subprocess.DEVNULL
        try:
            code = subprocess.run(command, stdin=where, stdout=where, stderr=err).returncode
        except OSError as exc:
            return 127, f"cannot run {command[0]}: {exc.strerror or exc}"
        size = err.seek(0, 2)
        err.seek(max(0, size - ERR_KEPT))
        tail = err.read().decode("utf-8", "replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    return code, safe.clean(lines[-1] if lines else "", 300)


def outcome(host: str, code: int, last: str) -> str | None:
    """The toast for ssh's exit (None: it went well)."""
    if code == 0:
        return None
    shown = safe.name(host, 64)
    if code == SSH_FAILED:
        return f"ssh to {shown} failed: {last or 'exit 255'}"
    if code == 127 and last.startswith("cannot run"):
        return last
    why = f": {last}" if last else ""
    return f"{shown}'s dashboard ended with exit status {code}{why}"


@contextlib.contextmanager
def _ignoring_interrupts() -> Iterator[None]:
    """Ctrl+C while ssh connects reaches our whole process group: ssh's to act on, not ours.
    A Python handler (not SIG_IGN) so that ssh, after exec, gets the default back."""
    try:
        old = signal.signal(signal.SIGINT, lambda *_: None)
    except ValueError:  # not the main thread: nothing to guard
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """While ssh has the terminal, our loop runs on: a warning it logs (Python's last-resort
    handler writes to `sys.stderr`, which `App.suspend` points back at the terminal) would
    land in the middle of the remote's screen. It is dropped instead."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
        yield


async def open_remote(app: App[None], key: str) -> None:
    """`enter` on another host's row: its dashboard over ssh -t, our app suspended."""
    monitor = monitor_of(app)
    config, why = refusal(monitor.settings, monitor.snapshot, key)
    if config is None:
        app.notify(why or "nothing to open", severity="warning", markup=False)
        return
    command = argv(monitor.settings, config)
    driver = app._driver
    if app.is_headless or driver is None:
        code, last = await asyncio.to_thread(run_ssh, command, False)
    elif not driver.can_suspend:
        app.notify(
            f"no terminal to hand over here: run `ssh -t {safe.clean(config.destination)} "
            f"{safe.clean(config.command)}` for {safe.name(config.name, 64)}'s dashboard",
            severity="warning",
            markup=False,
        )
        return
    else:
        monitor.away = True
        try:
            with app.batch_update(), app.suspend(), _ignoring_interrupts(), _quiet_stderr():
                code, last = await asyncio.to_thread(run_ssh, command, True)
        finally:
            monitor.away = False
        app.refresh(layout=True)
    message = outcome(config.name, code, last)
    if message is not None:
        app.notify(message, title="ssh", severity="error", timeout=15, markup=False)
