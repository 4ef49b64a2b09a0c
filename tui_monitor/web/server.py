"""textual-serve's `Server`, held to a private dashboard's needs.

textual-serve answers `/` with its page and `/ws` by starting the app command (through the
shell) as one process per websocket, bridging the browser's keys and the app's output. It
leaves these to its caller, so this subclass adds them:
- a cap: past `max_sessions` the page says so (503) and a websocket gets one line of text
  in the terminal, then closes, rather than yet another process;
- every session's process ended and reaped: on the websocket's close, on the app's exit, and
  at shutdown (quit, then SIGTERM, then SIGKILL), so none outlives the server;
- bounds: websocket messages (64 KiB), the terminal's size, HTTP keep-alive;
- our page (page.html): it loads nothing from outside this server, and shows a closed
  session or a full server in words.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import WSCloseCode, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from ..errors import TuiMonitorError
from .auth import cookie_name, token_middleware

log = logging.getLogger(__name__)


class ListenError(TuiMonitorError):
    """The address cannot be listened on (a port in use, an address not of this machine)."""


WS_MAX_MESSAGE = 64 * 1024
"""Bytes: a key, a paste, a resize; more is refused by aiohttp (the session closes)."""
MAX_COLUMNS, MAX_ROWS = 500, 200
"""The largest terminal a page may ask for (the app lays out every cell)."""
QUIT_GRACE = 5.0
"""Seconds a session's process has after `quit`, then again after SIGTERM, before SIGKILL."""
KEEPALIVE = 15.0
"""Seconds an idle HTTP connection is kept (aiohttp's default is an hour)."""


def full_text(limit: int) -> str:
    return (
        f"tui-monitor serve: all {limit} sessions are in use. Close another dashboard tab "
        "(or wait for one to close), then reload this page."
    )


def _bounded(value: str | None, default: int, high: int) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return max(1, min(number, high))


class Session(AppService):
    """One browser's app process, which `end` always stops and reaps."""

    @property
    def process(self) -> asyncio.subprocess.Process | None:
        return self._process

    @property
    def task(self) -> asyncio.Task[None] | None:
        """Reads the app's output until it exits; done once the process is gone."""
        return self._task

    async def end(self, grace: float = QUIT_GRACE) -> None:
        """Ask the app to quit; SIGTERM it past `grace`, SIGKILL past twice that; reap it."""
        with contextlib.suppress(TimeoutError, OSError, ConnectionError):
            await asyncio.wait_for(self.stop(), grace)
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        await process.wait()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class DashboardServer(Server):
    """Serve `command` (one shell command line) to at most `max_sessions` browsers at once,
    to requests that carry `token` only."""

    def __init__(
        self, command: str, host: str, port: int, *, token: str, max_sessions: int
    ) -> None:
        here = Path(__file__).parent
        super().__init__(command, host, port, title="tui-monitor", templates_path=here)
        self.token = token
        self.max_sessions = max_sessions
        self.sessions: set[Session] = set()
        self.pending = 0
        """Websockets past the cap check whose session has not started yet (no race)."""
        self.started = 0

    @property
    def busy(self) -> int:
        return len(self.sessions) + self.pending

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        aiohttp_jinja2.get_env(app).autoescape = True  # the Host header lands in the page
        app.middlewares.append(token_middleware(self.token, cookie_name(self.port)))
        return app

    async def on_startup(self, app: web.Application) -> None:
        """The CLI prints the URL (with the token); textual-serve's banner is not ours."""

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """Our page; a full server says so at once (503) instead of opening a session."""
        scheme = "wss" if request.secure else "ws"
        context: dict[str, Any] = {
            "websocket_url": f"{scheme}://{request.host}/ws",
            "font_size": _bounded(request.query.get("fontsize"), 16, 48),
            "full": full_text(self.max_sessions) if self.busy >= self.max_sessions else None,
        }
        status = 503 if context["full"] else 200
        response = aiohttp_jinja2.render_template("page.html", request, context, status=status)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One app process for this browser while it is connected, within the cap."""
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=WS_MAX_MESSAGE)
        if self.busy >= self.max_sessions:
            await websocket.prepare(request)
            await websocket.send_bytes(f"\r\n  {full_text(self.max_sessions)}\r\n".encode())
            await websocket.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"sessions full")
            return websocket
        self.pending += 1
        try:
            await websocket.prepare(request)
        finally:
            self.pending -= 1
        width = _bounded(request.query.get("width"), 80, MAX_COLUMNS)
        height = _bounded(request.query.get("height"), 24, MAX_ROWS)

        async def close() -> None:  # the app quit (`q`): the page shows the session ended
            await websocket.close()

        session = Session(
            self.command,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=close,
            download_manager=self.download_manager,
        )
        self.sessions.add(session)
        self.started += 1
        try:
            await self._serve(websocket, session, width, height)
        finally:
            await session.end()
            self.sessions.discard(session)
            await websocket.close()
        return websocket

    async def _serve(
        self, websocket: web.WebSocketResponse, session: Session, width: int, height: int
    ) -> None:
        """Until the browser leaves or the app exits; a malformed message ends this session
        (one line in the log), nothing else."""
        await session.start(width, height)
        messages = asyncio.ensure_future(self._process_messages(websocket, session))
        app_done = session.task
        assert app_done is not None
        try:
            await asyncio.wait({messages, app_done}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            messages.cancel()
            (error,) = await asyncio.gather(messages, return_exceptions=True)
            if isinstance(error, Exception):
                log.warning("a session ended on a bad message (%s)", type(error).__name__)

    async def end_sessions(self) -> int:
        """End every session's process (at shutdown); how many there were."""
        sessions = list(self.sessions)
        await asyncio.gather(*(s.end() for s in sessions), return_exceptions=True)
        return len(sessions)

    async def run(self, stop: asyncio.Event, ready: Callable[[], None]) -> None:
        """Listen until `stop` is set, then end every session and close. Raises ListenError when
        the address cannot be had (ListenError: a port in use)."""
        app = await self._make_app()
        runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=QUIT_GRACE, keepalive_timeout=KEEPALIVE
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            try:
                await site.start()
            except OSError as exc:
                where = f"{self.host}:{self.port}"
                why = os.strerror(exc.errno) if exc.errno else str(exc)  # not asyncio's wording
                raise ListenError(f"cannot listen on {where}: {why}") from None
            ready()
            await stop.wait()
            await self.end_sessions()
        finally:
            await runner.cleanup()
