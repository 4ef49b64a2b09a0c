"""`tui-monitor serve` as a subprocess over real HTTP and websockets: its options, the token,
the cap on sessions, and that every session's process ends with its page or the server."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from pathlib import Path

import aiohttp
import pytest
from recorders import run, wait_for
from serve_proc import ServeProcess, serving

pytestmark = pytest.mark.slow


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = Path(os.environ["TUI_MONITOR_CONFIG"])
    path.write_text(
        "interval = 0.5\n[presets]\nenabled = false\n[gpu]\nenabled = false\n"
        "[otlp]\nenabled = false\n"
    )
    return path


def test_a_non_loopback_host_needs_public(config: Path, tmp_path: Path) -> None:
    out = run("serve", "--host", "0.0.0.0", "--db", str(tmp_path / "h.db"))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "tui-monitor: error: --host 0.0.0.0 is not a loopback address; add --public to listen there"
    ]


def test_public_prints_the_risk(config: Path, tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: the risk is said, then the
    # listen fails in one line; nothing ever listens beyond loopback.
    out = run("serve", "--host", "192.0.2.1", "--public", "--db", str(tmp_path / "h.db"))
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert any("--public: 192.0.2.1:8000 can be reached from other machines" in x for x in lines)
    assert any("ssh -L 8000:127.0.0.1:8000" in x for x in lines)
    assert lines[-1].startswith("tui-monitor: cannot listen on 192.0.2.1:8000: ")
    assert "Traceback" not in out.stderr


def test_a_port_in_use_is_one_line(config: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run("serve", "--port", str(port), "--db", str(tmp_path / "h.db"))
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last == f"tui-monitor: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "args", [("--port", "0"), ("--port", "70000"), ("--port", "x"), ("--max-sessions", "0")]
)
def test_bad_numbers_are_refused(config: Path, args: tuple[str, str]) -> None:
    out = run("serve", *args)
    assert out.returncode == 2
    assert "Invalid value for" in out.stderr and "Traceback" not in out.stderr


def test_follow_only_is_for_the_dashboard(config: Path) -> None:
    out = run("--follow-only", "status")
    assert out.returncode == 2
    assert "--follow-only applies to the dashboard" in out.stderr


async def test_the_token_is_needed_everywhere(config: Path, tmp_path: Path) -> None:
    with serving(tmp_path / "h.db") as server:
        async with aiohttp.ClientSession() as http:
            for path in ("", "?token=wrong", "static/js/textual.js", "ws", "download/x"):
                async with http.get(server.base + path) as resp:
                    assert resp.status == 403, path
                    assert "needs the token" in await resp.text()
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(server.base + "ws")
            assert refused.value.status == 403
            # The token buys a cookie and a redirect to the URL without it.
            async with http.get(server.url, allow_redirects=False) as resp:
                assert resp.status == 302 and resp.headers["Location"] == "/"
                cookie = resp.cookies[f"tui-monitor-serve-{server.port}"]
                assert cookie.value == server.token and cookie["httponly"]
                assert cookie["samesite"] == "Strict"
        jar = {f"tui-monitor-serve-{server.port}": server.token}
        async with aiohttp.ClientSession(cookies=jar) as http:
            async with http.get(server.base) as resp:
                assert resp.status == 200
                page = await resp.text()
                assert f'data-session-websocket-url="ws://127.0.0.1:{server.port}/ws"' in page
                assert "https://" not in page  # nothing loaded from elsewhere
            async with http.get(server.base + "static/js/textual.js") as resp:
                assert resp.status == 200
            # Another local site's page (cookies ignore ports) cannot open a session.
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(server.base + "ws", origin="http://127.0.0.1:1")
            assert refused.value.status == 403
            assert server.sessions() == []


def browser_like() -> aiohttp.ClientSession:
    """Keeps cookies from an IP address, as browsers do (aiohttp's jar does not by default)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def read_until(ws: aiohttp.ClientWebSocketResponse, needle: bytes) -> bytes:
    seen = b""
    async with asyncio.timeout(30):
        while needle not in seen:
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.BINARY:
                seen += msg.data
            elif msg.type != aiohttp.WSMsgType.TEXT:
                pytest.fail(f"websocket {msg.type.name} before {needle!r}; got {seen[-500:]!r}")
    return seen


async def open_session(
    http: aiohttp.ClientSession, server: ServeProcess
) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(
        f"{server.base}ws?width=100&height=30&token={server.token}",
        origin=server.base.rstrip("/"),
    )
    await read_until(ws, b" NAME ")  # the agents table: the dashboard runs
    return ws


async def test_sessions_are_capped_and_free_their_slot(config: Path, tmp_path: Path) -> None:
    with serving(tmp_path / "h.db", "--max-sessions", "1") as server:
        async with browser_like() as http:
            first = await open_session(http, server)
            assert len(server.sessions()) == 1
            async with http.get(server.url) as resp:  # the next browser: a page that says so
                assert resp.status == 503
                assert "all 1 sessions are in use" in await resp.text()
            extra = await http.ws_connect(f"{server.base}ws?token={server.token}")
            said = await read_until(extra, b"sessions are in use")
            assert b"all 1 sessions are in use" in said
            closed = await extra.receive()
            assert closed.type == aiohttp.WSMsgType.CLOSE
            assert len(server.sessions()) == 1  # no process for the refused one
            await first.close()
            wait_for(lambda: server.sessions() == [], 20, "the session's process to end")
            async with http.get(server.url) as resp:
                assert resp.status == 200
            second = await open_session(http, server)
            await second.close()
            wait_for(lambda: server.sessions() == [], 20, "the second session to end")


async def test_sigterm_ends_every_session(config: Path, tmp_path: Path) -> None:
    with serving(tmp_path / "h.db") as server:
        async with aiohttp.ClientSession() as http:
            sessions = [await open_session(http, server) for _ in range(2)]
            children = server.sessions()
            assert len(children) == 2
            assert server.stop(signal.SIGTERM) == 0
            for child in children:
                assert not child.is_running() or child.status() == "zombie"
            for ws in sessions:  # what was on its way, then the close
                async with asyncio.timeout(10):
                    while (await ws.receive()).type == aiohttp.WSMsgType.BINARY:
                        pass
                assert ws.closed
        assert "stopped: 2 sessions served" in server.stderr
        assert "Traceback" not in server.stderr
