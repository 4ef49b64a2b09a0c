"""serve's pure parts: which hosts are loopback, the URL, each session's command, and the
dashboard's follow-only source (never records, says when no recorder runs)."""

from __future__ import annotations

import asyncio
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from recorders import eventually

from tui_monitor.cli.context import Context
from tui_monitor.cli.serve import app_command, is_loopback, url_for
from tui_monitor.config import Settings
from tui_monitor.source import TAKE_OVER_AFTER, AttachedSource, LiveSource, choose_source
from tui_monitor.web.auth import cookie_name, new_token


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.2.1", "::1", "localhost", "LOCALHOST"])
def test_loopback(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.2", "example.org", "localhost."])
def test_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_url_brackets_ipv6() -> None:
    assert url_for("::1", 8000, "T") == "http://[::1]:8000/?token=T"
    assert url_for("127.0.0.1", 81, "T") == "http://127.0.0.1:81/?token=T"


def test_tokens_are_long_and_fresh() -> None:
    tokens = {new_token() for _ in range(20)}
    assert len(tokens) == 20 and all(len(t) >= 43 for t in tokens)
    assert cookie_name(8000) != cookie_name(8001)


def test_each_session_is_a_read_only_follower(tmp_path: Path) -> None:
    config = tmp_path / "my config.toml"
    obj = Context(config, named=True, interval=0.5)
    words = shlex.split(app_command(obj, tmp_path / "h.db"))
    assert words[:4] == ["exec", sys.executable, "-m", "tui_monitor.cli"]
    assert words[4:] == [
        "--config", str(config), "--interval", "0.5",
        "--db", str(tmp_path / "h.db"), "--read-only", "--follow-only",
    ]  # fmt: skip
    # A config from TUI_MONITOR_CONFIG reaches the session through its environment.
    assert "--config" not in shlex.split(app_command(Context(config), tmp_path / "h.db"))


async def test_follow_only_never_records(tmp_path: Path) -> None:
    settings = Settings()
    db = tmp_path / "h.db"
    assert isinstance(choose_source(settings, db), LiveSource)
    source = choose_source(settings, db, follow_only=True)
    assert isinstance(source, AttachedSource) and source.take_over is False
    assert source.pid is None and source.warning == ""


async def test_follow_only_without_a_recorder_says_so_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    source = choose_source(Settings(), db, follow_only=True)
    stop = asyncio.Event()
    assert isinstance(source, AttachedSource)
    looks: list[float] = []
    look = source._look

    def counted() -> Any:
        looks.append(time.monotonic())
        return look()

    source._look = counted  # type: ignore[method-assign]
    task = asyncio.create_task(source.run(lambda _snap: None, stop))
    await eventually(lambda: source.warning == "no recorder is running", 10, "the warning")
    # Past the take-over delay it still only follows: it goes on looking (a source that took
    # over would have left its follow loop and stopped looking).
    gone = source._gone_at
    assert gone is not None
    await eventually(
        lambda: sum(t > gone + TAKE_OVER_AFTER for t in looks) >= 2,
        10 + TAKE_OVER_AFTER,
        "two looks past the take-over delay",
    )
    assert source.mode == "attached" and source.recorder is None and not task.done()
    stop.set()
    await task
    assert not db.exists() and not Path(f"{db}.lock").exists()
