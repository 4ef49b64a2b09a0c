"""The `on_alert` command: an argv (never a shell), details in environment variables."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence

from .. import safe
from .engine import AlertChange
from .rules import Value

# -- the on_alert command --------------------------------------------------------------

ENV_PREFIX = "TUI_MONITOR_ALERT_"
_TAIL = 4096


def _env_number(v: Value) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(int(v)) if float(v).is_integer() else f"{v:.3f}".rstrip("0")


def alert_env(change: AlertChange) -> dict[str, str]:
    """The TUI_MONITOR_ALERT_* variables; every value one printable line, no NUL bytes."""
    raw = {
        "RULE": change.rule, "STATE": change.state, "SUBJECT": change.subject,
        "METRIC": change.metric, "VALUE": _env_number(change.value),
        "THRESHOLD": _env_number(change.threshold), "SEVERITY": change.severity,
        "MESSAGE": change.message, "SINCE": f"{change.since:.3f}", "AT": f"{change.at:.3f}",
        "REASON": change.reason,
    }  # fmt: skip
    return {ENV_PREFIX + k: safe.clean(v, 1024).replace("\0", "") for k, v in raw.items()}


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # start_new_session: its pid is the group id
    with contextlib.suppress(ProcessLookupError):
        proc.kill()  # in case it left its group


async def _tail(stream: asyncio.StreamReader, buf: bytearray) -> None:
    while chunk := await stream.read(65536):
        buf += chunk
        del buf[:-_TAIL]


async def run_on_alert_async(
    argv: Sequence[str], change: AlertChange, *, timeout: float
) -> str | None:
    """Run `argv` (no shell) with the alert in its environment; None, or one problem line.

    Never raises for the child's sake: a missing program, a failure exit or a timeout (the
    child's whole process group is killed) come back as text for the event log. stderr is
    our own pipe, not asyncio's: on 3.11 `Process.wait` also waits for its pipes to close,
    which a daemonised grandchild holding stderr would postpone forever.
    """
    if not argv or not argv[0]:
        return "on_alert: no command configured"
    name = safe.name(argv[0])
    rfd, wfd = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=wfd,
            env={**os.environ, **alert_env(change)},
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        os.close(rfd)
        why = f"cannot start: {safe.clean(exc, 200)}"
        if isinstance(exc, FileNotFoundError | PermissionError):
            why = "program not found" if isinstance(exc, FileNotFoundError) else "permission denied"
        return f"on_alert: {name}: {why}"
    finally:
        os.close(wfd)
    stream = asyncio.StreamReader()
    pipe = os.fdopen(rfd, "rb", buffering=0)
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(stream), pipe
    )
    err = bytearray()
    reader = asyncio.ensure_future(_tail(stream, err))
    rc: int | None = None
    try:
        rc = await asyncio.wait_for(proc.wait(), timeout)
        with contextlib.suppress(TimeoutError):  # stderr may outlive the child; never wait long
            await asyncio.wait_for(asyncio.shield(reader), 1.0)
    except TimeoutError:
        _kill_group(proc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5.0)
    except BaseException:  # cancelled with the app: take the child down too
        _kill_group(proc)
        raise
    finally:
        reader.cancel()
        transport.close()
    if rc is None:
        return f"on_alert: {name}: still running after {timeout:g} s, killed"
    if rc == 0:
        return None
    lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
    last = f": {safe.clean(lines[-1].strip(), 200)}" if lines else ""
    how = f"was killed by signal {-rc}" if rc < 0 else f"exited with status {rc}"
    return f"on_alert: {name} {how}{last}"


def run_on_alert(argv: Sequence[str], change: AlertChange, *, timeout: float) -> str | None:
    """`run_on_alert_async` for a worker thread (it runs its own event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run_on_alert_async(argv, change, timeout=timeout))
    return "on_alert: run_on_alert called on an event loop; use run_on_alert_async"
