"""A small HTTP/1.1 server on asyncio streams, with `h11` doing the protocol: the OTLP
receiver's (otlp/) and /metrics' (metrics/). It imports nothing of ours, so either may use it.

Why h11 and not aiohttp: h11 (python-hyper; the parser under uvicorn and httpcore) is a
well-kept sans-IO state machine that costs ~20 ms to import against aiohttp.web's ~170 ms on
the recorder's start, and being sans-IO it lets us decide before a body byte is read (method,
path, token, type, declared length) and count a gzip body's size as it inflates, which is
where a receiver open to every local user must be strict. Keep-alive, chunked bodies (Claude
Code's exporter sends `Transfer-Encoding: chunked`) and malformed requests are h11's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import h11

log = logging.getLogger(__name__)

READ = 65536
HEADERS_MAX = 16384
"""Bytes a request line and its headers may take."""
GZIP_SLACK = 65536
"""Compressed bodies may be this much larger than `max_body` (a gzip header and an
incompressible body); the decompressed size is what is limited."""


@dataclass(slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    max_body: int | None = None
    """The gate may lower the server's body limit for this request (hooks are small)."""


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False
    head: bool = False
    """The answer to a HEAD request: its headers (the length included) without the body."""


Gate = Callable[[Request], Reply | None]
"""Looks at a request's head: a Reply refuses it before its body is read."""
Handler = Callable[[Request], Awaitable[Reply]]
Fail = Callable[[Request | None, int, str], Reply]
"""Makes the answer to a request refused by the transport (400, 413) in its encoding."""


class TooLarge(Exception):
    pass


class BadBody(Exception):
    pass


class Body:
    """A request body as it arrives, inflated when gzip, never past `limit` bytes."""

    def __init__(self, limit: int, gzip: bool) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.raw = 0
        self._z = zlib.decompressobj(wbits=31) if gzip else None

    def feed(self, chunk: bytes) -> None:
        self.raw += len(chunk)
        if self._z is None:
            self._take(chunk)
            return
        if self.raw > self.limit + GZIP_SLACK:
            raise TooLarge
        try:
            data = self._z.decompress(chunk, self.limit - self.size + 1)
            self._take(data)
            while self._z.unconsumed_tail:  # only ever when the output cap was reached
                self._take(self._z.decompress(self._z.unconsumed_tail, self.limit - self.size + 1))
        except zlib.error as exc:
            raise BadBody(f"not gzip ({exc})") from None

    def _take(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise TooLarge
        self.parts.append(data)

    def done(self) -> bytes:
        if self._z is not None and not self._z.eof:
            raise BadBody("the gzip stream ends early")
        return b"".join(self.parts)


class HttpServer:
    """Serves `handler` on host:port; `gate` refuses early, `fail` words transport errors.

    Args:
        max_connections: More at once are closed on accept.
        max_body: Bytes a body may hold once decompressed (413 past it).
        idle_timeout: Seconds a connection may wait for the next bytes.
    """

    def __init__(self, host: str, port: int, gate: Gate, handler: Handler, fail: Fail, *,
                 max_connections: int, max_body: int, idle_timeout: float) -> None:  # fmt: skip
        self.host, self.port = host, port
        self._gate, self._handler, self._fail = gate, handler, fail
        self.max_connections = max_connections
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.connections = 0
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen (OSError when the address cannot be had: in use, not ours)."""
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, limit=READ, reuse_address=True
        )
        sock = self._server.sockets[0].getsockname()
        self.port = int(sock[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.connections >= self.max_connections:
            self.refused += 1
            writer.close()
            return
        self.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            self.connections -= 1
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _next(self, conn: h11.Connection, reader: asyncio.StreamReader) -> object:
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await asyncio.wait_for(reader.read(READ), self.idle_timeout)
            conn.receive_data(data)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=HEADERS_MAX)
        while True:
            try:
                event = await self._next(conn, reader)
                if not isinstance(event, h11.Request):
                    return  # closed, or a client done with us
                reply = await self._one(conn, reader, event)
                reply.head = event.method == b"HEAD"  # h11 refuses a body after HEAD
            except h11.RemoteProtocolError as exc:
                if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
                    return
                reply = self._fail(None, 400, f"malformed HTTP request: {exc}")
                reply.close = True
            await self._send(conn, writer, reply)
            if reply.close or conn.our_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()

    async def _one(self, conn: h11.Connection, reader: asyncio.StreamReader,
                   event: h11.Request) -> Reply:  # fmt: skip
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}
        target = event.target.decode("latin-1").partition("?")[0]
        request = Request(event.method.decode("latin-1"), target, headers)
        refused = self._gate(request)
        if refused is not None:
            refused.close = True  # its body was never read: the connection cannot go on
            return refused
        length = headers.get("content-length", "")
        encoding = headers.get("content-encoding", "identity").strip().lower()
        gzip = encoding == "gzip"
        limit = min(request.max_body or self.max_body, self.max_body)
        if length.isdigit() and int(length) > limit + (GZIP_SLACK if gzip else 0):
            reply = self._fail(request, 413, f"body over {limit} bytes")
            reply.close = True
            return reply
        body = Body(limit, gzip)
        try:
            while True:
                part = await self._next(conn, reader)
                if isinstance(part, h11.Data):
                    body.feed(bytes(part.data))
                elif isinstance(part, h11.EndOfMessage):
                    break
                else:
                    raise BadBody("the request ended without its body")
            request.body = body.done()
        except TooLarge:
            reply = self._fail(request, 413, f"body over {limit} bytes once decompressed")
            reply.close = True  # the rest is never read (nor inflated)
            return reply
        except BadBody as exc:
            reply = self._fail(request, 400, str(exc))
            reply.close = True
            return reply
        return await self._handler(request)

    async def _send(self, conn: h11.Connection, writer: asyncio.StreamWriter, r: Reply) -> None:
        headers = [("content-type", r.content_type), ("content-length", str(len(r.body))),
                   *r.headers]  # fmt: skip
        if r.close:
            headers.append(("connection", "close"))
        out = conn.send(h11.Response(status_code=r.status, headers=headers))
        if not r.head:
            out += conn.send(h11.Data(data=r.body)) or b""
        out += conn.send(h11.EndOfMessage()) or b""
        writer.write(out or b"")
        await asyncio.wait_for(writer.drain(), self.idle_timeout)
