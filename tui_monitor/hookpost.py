"""`python -m tui_monitor.hookpost URL TOKEN_FILE [PAYLOAD]`: an agent's command hook.

Posts one hook payload to the recorder (`POST /hooks/<family>`): the JSON an agent writes on
stdin (Codex and Claude Code command hooks), or the one JSON argument Codex's legacy `notify`
program gets. The agent waits for its hooks, so this must never block or slow it: standard
library only (it starts in tens of milliseconds), a one-second limit on the whole exchange,
nothing printed (a hook's stdout is read by the agent: SessionStart's is added to the
model's context), and exit 0 whatever happens: a recorder that is down, slow or refusing
costs the agent nothing. The token is read from its 0600 file at each call, so no secret
sits in the agent's hook config.
"""

from __future__ import annotations

import os
import signal
import sys
from http.client import HTTPConnection
from types import FrameType
from urllib.parse import urlsplit

TIMEOUT = 1.0
"""Seconds each network step may wait."""
DEADLINE = 1.5
"""Seconds the whole run may take (reading stdin included); then it gives up, exit 0."""
MAX_BODY = 256 * 1024
"""What the receiver takes (otlp/receiver.py HOOK_MAX_BODY); a larger payload is not sent."""


def _payload(args: list[str]) -> bytes | None:
    if args:
        return args[0].encode("utf-8", "surrogateescape")
    if sys.stdin is None or sys.stdin.isatty():
        return None
    data = sys.stdin.buffer.read(MAX_BODY + 1)
    return data if data.strip() else None


def _token(path: str) -> str:
    with open(path, "rb") as f:
        return f.read(512).decode("ascii").strip()


def post(url: str, token_file: str, body: bytes) -> int:
    """Send `body`; the HTTP status. http.client, not urllib.request: half the import time,
    and no proxy variable can send a loopback request elsewhere."""
    where = urlsplit(url)
    conn = HTTPConnection(where.hostname or "127.0.0.1", where.port or 80, timeout=TIMEOUT)
    try:
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {_token(token_file)}",
        }
        conn.request("POST", where.path or "/", body=body, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


class _Late(Exception):
    pass


def _late(signum: int, frame: FrameType | None) -> None:
    raise _Late


def main(argv: list[str]) -> int:
    try:
        signal.signal(signal.SIGALRM, _late)
        signal.setitimer(signal.ITIMER_REAL, DEADLINE)
        if len(argv) < 2:
            return 0
        body = _payload(argv[2:3])
        if body is not None and len(body) <= MAX_BODY:
            post(argv[0], argv[1], body)
    except BaseException:  # a hook must never fail its agent
        pass
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)  # no interpreter teardown: nothing is left to flush or close
