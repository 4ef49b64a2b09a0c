"""`GET /metrics` over HTTP: the OTLP receiver's small h11 server (httpd.py), so one
well-tested server with its bounds (connections, header bytes, body bytes, idle timeouts)
serves both, not a second one. Every request needs the bearer token; nothing but GET and
HEAD of /metrics is answered."""

from __future__ import annotations

import asyncio
import errno
import hmac
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from ..errors import ServerError
from ..httpd import HttpServer, Reply, Request
from .exposition import Exposition
from .settings import MetricsSettings

log = logging.getLogger(__name__)

PATH = "/metrics"
MAX_BODY = 1024
"""Bytes a request body may hold: a scrape has none; anything larger is refused (413)."""
TEXT = "text/plain; charset=utf-8"


class MetricsServer:
    """Serves the exposition on `[metrics] listen` until `close`.

    Args:
        settings: `[metrics]` with `listen` set.
        token_path: The bearer token file (named in the 401 answer).
        load_token: Reads it, or makes it on first start (otlp/token.py; handed in, since
            this package may not import what imports the config, which imports it).
        exposition: What a scrape renders.
    """

    def __init__(self, settings: MetricsSettings, token_path: Path,
                 load_token: Callable[[], str], exposition: Exposition) -> None:  # fmt: skip
        address = settings.address()
        if address is None:
            raise ValueError("[metrics] listen is not set")
        self.settings = settings
        self.token_path = token_path
        self._load_token = load_token
        self.exposition = exposition
        self._token = b""
        self.listening: str | None = None
        """`host:port` once listening, or `off: <reason>`."""
        self.scrapes = 0
        self.refused = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="tui-monitor-metrics")
        self.server = HttpServer(
            address[0], address[1], self.gate, self.handle, self.fail,
            max_connections=settings.max_connections, max_body=MAX_BODY,
            idle_timeout=settings.idle_timeout,
        )  # fmt: skip

    async def start(self) -> None:
        """Listen; a problem (port in use, an unsafe token file) leaves /metrics off with
        the reason in `listening` and the log, and never stops the recorder."""
        try:
            self._token = (await asyncio.to_thread(self._load_token)).encode()
            await self.server.start()
        except (ServerError, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
                reason = f"{self.settings.listen} in use"
            self.listening = f"off: {reason}"
            return
        host = self.server.host
        self.listening = f"{f'[{host}]' if ':' in host else host}:{self.server.port}"

    async def close(self) -> None:
        await self.server.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def fail(self, request: Request | None, status: int, reason: str) -> Reply:
        self.refused += 1
        return Reply(status, f"{reason}\n".encode(), TEXT)

    def gate(self, request: Request) -> Reply | None:
        """Refused before any body byte: method, path, token."""
        if request.method not in ("GET", "HEAD"):
            reply = self.fail(request, 405, "only GET and HEAD")
            reply.headers.append(("allow", "GET, HEAD"))
            return reply
        if request.path != PATH:
            return self.fail(request, 404, "only /metrics is served here")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode("latin-1", "replace"), self._token
        ):
            reply = self.fail(request, 401, f"needs the bearer token in {self.token_path}")
            reply.headers.append(("www-authenticate", 'Bearer realm="tui-monitor"'))
            return reply
        return None

    async def handle(self, request: Request) -> Reply:
        taken = self.exposition.view()  # on the loop: one tick's figures
        if taken is None:
            return Reply(503, b"no tick yet\n", TEXT, [("retry-after", "1")])
        loop = asyncio.get_running_loop()
        text = await loop.run_in_executor(self._pool, self.exposition.render, taken)
        self.scrapes += 1
        return Reply(200, text, CONTENT_TYPE_PLAIN_0_0_4)
