"""The recorder's OTLP/HTTP receiver: checks, decodes and maps in a thread, then adds the
records to the session book, where files' records go (sessions/book.py).

Answers follow the OTLP/HTTP spec: 200 with an Export*ServiceResponse (partial_success names
what was dropped and why), 400 for a malformed body, 401 without the token, 404/405 for other
paths and methods, 413 past `max_body` (decompressed), 415 for other content types or
encodings, 503 with Retry-After while the book is full or not open yet (exporters retry it).
Hooks (`POST /hooks/<family>`, hooks.py) share the server: JSON only, `HOOK_MAX_BODY`, and a
200 with an empty body, which every agent reads as "no decision".
A flood costs the loop only the adding, in slices: decoding runs on one thread, at most
`DECODING` requests wait for it, and a full book turns senders away instead of growing.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..config import OtlpSettings
from ..cost.builtin import BUILTIN
from ..errors import ServerError
from ..httpd import HttpServer, Reply, Request
from ..models import OtlpStatus
from ..sessions.book import SessionBook
from ..sessions.records import SessionRecord, SessionUsage
from . import media
from .events import map_logs
from .hooks import FAMILIES, BadHook, map_hook, parse
from .metrics import count_spans, map_metrics
from .token import load_token

log = logging.getLogger(__name__)

WAITING_MAX = 50_000
"""Usage records the book may hold before senders are told to come back (as the readers
wait: sessions/feed.py)."""
SLICE = 1000
"""Records added to the book between yields to the loop."""
DECODING = 4
"""Requests decoded at once (each holds its body)."""
HOOKS = "/hooks/"
HOOK_MAX_BODY = 256 * 1024
"""Bytes a hook payload may hold: names and states are all we take; a tool's input or output
that makes one larger loses only that event's signal (413), the next one says it again."""
HAND_OVER_EVERY = 0.1
"""Seconds between looks for the book while hooks wait for it."""
EARLY_MAX = 2000
"""Hook records kept while the session book is not open yet (the recorder's first seconds);
past it, 503."""
_GRPC = {400: 3, 401: 16, 404: 12, 405: 12, 413: 8, 415: 3, 503: 14}
"""HTTP status -> the google.rpc code of its Status body."""


@dataclass(slots=True)
class Mapped:
    records: list[SessionRecord]
    taken: int
    rejected: int
    reason: str
    answer: bytes = b""
    """The Export*ServiceResponse body, in the request's encoding."""


def decode(signal: media.Signal, body: bytes, as_json: bool) -> Mapped:
    """Body -> records and the answer (in a thread: protobuf parsing, mapping and encoding
    are the expensive part, and the messages are imported here at the first request)."""
    from . import wire

    message = wire.parse(signal, body, as_json=as_json)
    if signal == "logs":
        logs = map_logs(message)
        if any(isinstance(r, SessionUsage) for r in logs.records):
            BUILTIN.load()  # here, in the thread: pricing it on the loop must not import it
        mapped = Mapped(logs.records, logs.taken, logs.rejected, logs.reason)
    elif signal == "metrics":
        points = map_metrics(message)
        mapped = Mapped(list(points.records), points.taken, points.rejected, points.reason)
    else:
        mapped = Mapped([], count_spans(message), 0, "")
    mapped.answer = wire.answer(signal, mapped.rejected, mapped.reason, as_json=as_json)
    return mapped


class OtlpReceiver:
    """Owns the server, the token and the counters of one recorder.

    Args:
        settings: `[otlp]`.
        token_path: The token file (`OtlpSettings.token_path`).
        book: The session book once it is open (None before: senders are told to retry).
    """

    def __init__(self, settings: OtlpSettings, token_path: Path,
                 book: Callable[[], SessionBook | None],
                 hooks_token_path: Path | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.token_path = token_path
        self.hooks_token_path = hooks_token_path
        self._book = book
        self._token = b""
        self._hooks_token: bytes | None = None
        self.hooks = 0
        self.hooks_unknown = 0
        self.listening: str | None = None
        self.requests = 0
        self.records = 0
        self.rejected = 0
        self.last_rejection: str | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="tui-monitor-otlp")
        self._decoding = asyncio.Semaphore(DECODING)
        self._early: list[SessionRecord] = []
        """Hook records taken before the book opened (`EARLY_MAX`)."""
        self._handing: asyncio.Task[None] | None = None
        host, port = settings.address()
        self.server = HttpServer(
            host, port, self.gate, self.handle, self.fail,
            max_connections=settings.max_connections, max_body=settings.max_body,
            idle_timeout=settings.idle_timeout,
        )  # fmt: skip

    async def start(self) -> None:
        """Listen; a problem (port in use, unsafe token file) leaves it off, with the reason
        in `listening` for the header, and never stops the recorder."""
        try:
            self._token = (await asyncio.to_thread(load_token, self.token_path)).encode()
            if self.hooks_token_path is not None:
                hooks = await asyncio.to_thread(load_token, self.hooks_token_path)
                self._hooks_token = hooks.encode()
            await self.server.start()
        except (ServerError, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
                reason = f"{self.settings.listen} in use"  # asyncio's own words run long
            self.listening = f"off: {reason}"
            log.error("otlp receiver on %s: %s", self.settings.listen, reason)
            return
        host = self.server.host
        host = f"[{host}]" if ":" in host else host
        self.listening = f"{host}:{self.server.port}"
        if self._book() is None:
            self._handing = asyncio.create_task(self._hand_over(), name="otlp-early-hooks")

    async def _hand_over(self) -> None:
        """Until the book opens (seconds), then the hooks that came first go to it."""
        while self._book() is None:
            await asyncio.sleep(HAND_OVER_EVERY)
        self.flush_early()

    async def close(self) -> None:
        if self._handing is not None:
            self._handing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._handing
        self.flush_early()  # opened by now, or never: then they go with the recorder
        await self.server.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def status(self) -> OtlpStatus:
        return OtlpStatus(
            listening=self.listening,
            requests=self.requests,
            records=self.records,
            rejected=self.rejected,
            last_rejection=self.last_rejection,
            hooks=self.hooks,
            hooks_unknown=self.hooks_unknown,
        )

    # -- requests ------------------------------------------------------------------------

    def _refuse(self, why: str) -> None:
        self.rejected += 1
        self.last_rejection = why[:200]

    def fail(self, request: Request | None, status: int, reason: str) -> Reply:
        """A refusal in the request's encoding (protobuf unless it asked for JSON)."""
        self._refuse(f"{status}: {reason}")
        as_json = request is not None and _media(request) == media.JSON
        return Reply(
            status,
            _failure(_GRPC.get(status, 2), reason, as_json),
            media.JSON if as_json else media.PROTOBUF,
        )

    def gate(self, request: Request) -> Reply | None:
        """What is refused before its body is read: path, method, token, type, encoding."""
        self.requests += 1
        hook = request.path.startswith(HOOKS)
        if hook and request.path[len(HOOKS) :] not in FAMILIES:
            return self.fail(request, 404, f"no hooks for {request.path[len(HOOKS) :][:40]!r}")
        if not hook and request.path not in media.PATHS:
            return self.fail(request, 404, f"no such endpoint {request.path[:100]!r}")
        if request.method != "POST":
            reply = self.fail(request, 405, "only POST")
            reply.headers.append(("allow", "POST"))
            return reply
        given = request.headers.get("authorization", "").encode("latin-1")
        ok = hmac.compare_digest(given, b"Bearer " + self._token)
        if hook and self._hooks_token is not None:
            ok = hmac.compare_digest(given, b"Bearer " + self._hooks_token) or ok
        if not ok:
            reply = self.fail(request, 401, "missing or wrong bearer token")
            reply.headers.append(("www-authenticate", "Bearer"))
            return reply
        if hook:
            if _media(request) != media.JSON:
                return self.fail(request, 415, f"a hook's content type must be {media.JSON}")
            request.max_body = HOOK_MAX_BODY
        if _media(request) not in (media.PROTOBUF, media.JSON):
            return self.fail(request, 415, f"content type must be {media.PROTOBUF} or {media.JSON}")
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip"):
            return self.fail(request, 415, f"content encoding {encoding[:40]!r} (gzip only)")
        return None

    async def handle(self, request: Request) -> Reply:
        if request.path.startswith(HOOKS):
            return self._hook(request)
        signal = media.PATHS[request.path]
        as_json = _media(request) == media.JSON
        book = self._book()
        if book is None or book.waiting >= WAITING_MAX:
            reply = self.fail(request, 503, "busy: the recorder is catching up, retry")
            reply.headers.append(("retry-after", "1"))
            return reply
        async with self._decoding:
            loop = asyncio.get_running_loop()
            try:
                mapped = await loop.run_in_executor(
                    self._pool, decode, signal, request.body, as_json
                )
            except media.Malformed as exc:
                return self.fail(request, 400, str(exc))
        for i in range(0, len(mapped.records), SLICE):
            book.add(mapped.records[i : i + SLICE])
            if i + SLICE < len(mapped.records):
                await asyncio.sleep(0)
        self.records += mapped.taken
        if mapped.rejected:
            self._refuse(mapped.reason)
            self.rejected += mapped.rejected - 1
        return Reply(200, mapped.answer, media.JSON if as_json else media.PROTOBUF)

    def _hook(self, request: Request) -> Reply:
        """Parsed on the loop, not the decoding thread: a payload is at most HOOK_MAX_BODY
        (a millisecond or two), and an agent waiting on its hook must not queue behind a
        flood of OTLP batches."""
        book = self._book()
        if book is None and len(self._early) >= EARLY_MAX:
            return self.fail(request, 503, "the recorder is starting, retry")
        try:
            mapped = map_hook(
                FAMILIES[request.path[len(HOOKS) :]], parse(request.body), time.time()
            )
        except BadHook as exc:
            return self.fail(request, 400, str(exc))
        if not mapped.known:
            self.hooks_unknown += 1
            return Reply(200, b"", media.JSON)
        self.hooks += 1
        if book is None:  # the book opens a few seconds after the server: a hook is not
            self._early.extend(mapped.records)  # retried (an agent goes on), so it waits here
            return Reply(200, b"", media.JSON)
        if self._early:
            book.add(self._early)
            self._early = []
        book.add(mapped.records)
        return Reply(200, b"", media.JSON)

    def flush_early(self) -> None:
        """Hand the hooks taken before the book opened to it."""
        book = self._book()
        if book is not None and self._early:
            book.add(self._early)
            self._early = []


def _failure(code: int, reason: str, as_json: bool) -> bytes:
    if as_json:
        return media.failure_json(code, reason)
    from . import wire  # a refusal in protobuf: the messages are needed (once, ~30 ms)

    return wire.failure(code, reason, as_json=False)


def _media(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()
