"""Bad config files and values (issue 13, item 26): one line and exit 2 each, before anything
runs, through the real console script; and a retention pass that fails is not the end of
retention."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest
from factories import history
from pydantic import BaseModel, RootModel
from test_cli import run, tui_monitor, write_config
from test_export_cli import check_one_line

from tui_monitor.config import (
    FileSettings,
    IngestSettings,
    PresetSettings,
    Settings,
    StoreSettings,
)
from tui_monitor.recorder import Recorder
from tui_monitor.store.writer import Writer

WAIT = 20.0
"""Seconds a command may take before the test calls it a hang."""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    store = Writer(path)
    try:
        store.write_batch(history())
    finally:
        store.close()
    return path


def one_config_error(done: subprocess.CompletedProcess[str], expected: str) -> None:
    check_one_line(done.returncode, done.stderr, expected)
    assert done.returncode == 2
    assert done.stderr.startswith("tui-monitor: config error: ")


# -- the file -------------------------------------------------------------------------------


def test_a_config_named_on_the_command_line_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "c.toml"
    for args in (["config", "show"], ["db", "info"], ["status"]):
        done = run("--config", str(missing), *args, timeout=WAIT)
        one_config_error(done, f"{missing}: no such file")
    # what is still fine: the default place (here TUI_MONITOR_CONFIG) holding nothing yet,
    # and `config init` / `config path` for the very file that is missing
    assert not Path(os.environ["TUI_MONITOR_CONFIG"]).exists()
    assert run("config", "show").returncode == 0
    assert run("--config", str(missing), "config", "path").stdout == f"{missing}\n"
    missing.parent.mkdir()
    assert run("--config", str(missing), "config", "init").returncode == 0
    assert run("--config", str(missing), "config", "show").returncode == 0


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_fifo_as_config_is_refused_at_once(how: str, tmp_path: Path) -> None:
    """Reading a FIFO waits for a writer for ever: it is refused before a byte is read."""
    fifo = tmp_path / "c.toml"
    os.mkfifo(fifo)
    env = {**os.environ, "TUI_MONITOR_CONFIG": str(fifo)}
    args = ["--config", str(fifo)] if how == "flag" else []
    done = subprocess.run(
        [*tui_monitor(), *args, "config", "show"],
        capture_output=True,
        text=True,
        timeout=WAIT,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    one_config_error(done, f"{fifo}: not a regular file")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_device_as_config_is_refused() -> None:
    done = run("--config", "/dev/null", "config", "show", timeout=WAIT)
    one_config_error(done, "/dev/null: not a regular file")


# -- numbers --------------------------------------------------------------------------------

UNBOUNDED = [
    ("[store.retention]\nraw_hours = inf\n", "store.retention.raw_hours: Input should be less"),
    ("[store.retention]\nraw_hours = 1e300\n", "store.retention.raw_hours: Input should be less"),
    ("[store.retention]\nevents_days = 1e20\n", "store.retention.events_days: Input should"),
    ("[store.retention]\nminute_days = nan\n", "store.retention.minute_days: Input should"),
    ("[ingest]\npending = 1e29\n", "ingest.pending: "),
    ("[ingest]\npending = 2000000\n", "ingest.pending: Input should be less than or equal"),
    ("[store]\nprune_every = 1e300\n", "store.prune_every: Input should be less"),
    ("exited_linger = inf\n", "exited_linger: Input should be less than or equal to 86400"),
    ("[ingest]\nheartbeat_timeout = 1e300\n", "ingest.heartbeat_timeout: Input should be"),
]


@pytest.mark.parametrize(("text", "expected"), UNBOUNDED, ids=range(len(UNBOUNDED)))
def test_numbers_past_their_bound_stop_db_prune(text: str, expected: str, db: Path) -> None:
    """`db prune` exited 70 (OverflowError) on such values; now no command starts on them."""
    path = write_config(text)
    done = run("db", "prune", "--db", str(db), timeout=WAIT)
    one_config_error(done, f"{path}: {expected}")


def test_db_prune_runs_at_the_largest_retention(db: Path) -> None:
    write_config(
        "[store.retention]\nraw_hours = 876000\nminute_days = 36500\n"
        "hour_days = 36500\nevents_days = 36500\n"
    )
    done = run("db", "prune", "--db", str(db), timeout=WAIT)
    assert done.returncode == 0, done.stderr
    assert "ticks: 0 rows removed" in done.stdout


MONEY_AND_LEVELS = {"input", "output", "cache_read", "cache_write", "cache_write_1h", "daily",
                    "monthly", "agents", "threshold", "clear"}  # fmt: skip
"""Prices, budgets and alert levels: any finite number (their own models refuse inf/nan)."""


def _numbers(model: type[BaseModel], path: str = "") -> list[tuple[str, list[object]]]:
    """(dotted name, constraints) of every int or float setting under `model`."""
    out: list[tuple[str, list[object]]] = []
    for name, info in model.model_fields.items():
        inner, nested = [info.annotation], None
        metadata = list(info.metadata)
        leaf = False
        while inner:
            tp = inner.pop()
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                nested = tp
                break
            if tp in (int, float):
                leaf = True
            metadata.extend(getattr(tp, "__metadata__", ()))
            for arg in getattr(tp, "__metadata__", ()):
                metadata.extend(getattr(arg, "metadata", ()))
            inner.extend(getattr(tp, "__args__", ()))
        if nested is not None and issubclass(nested, RootModel):
            nested = nested.model_fields["root"].annotation.__args__[1]  # type: ignore[union-attr]
        if nested is not None:
            out.extend(_numbers(nested, f"{path}{name}."))
        elif leaf:
            out.append((f"{path}{name}", metadata))
    return out


def test_every_number_in_the_config_has_a_finite_upper_bound() -> None:
    numbers = _numbers(FileSettings)
    assert len(numbers) > 25
    for name, constraints in numbers:
        upper = [getattr(c, "le", None) or getattr(c, "lt", None) for c in constraints]
        finite = [c for c in constraints if getattr(c, "allow_inf_nan", True) is False]
        if name.split(".")[-1] in MONEY_AND_LEVELS:
            assert finite, f"{name} accepts inf or nan"
            continue
        bounds = [u for u in upper if u is not None]
        assert bounds and all(math.isfinite(b) for b in bounds), f"{name} has no upper bound"


# -- the recorder's retention task ----------------------------------------------------------


async def test_a_failing_retention_pass_is_logged_and_the_next_one_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The task died at the first exception that was not sqlite's, in silence, and history
    grew for the life of the recorder. A value no config can hold any more makes it fail."""
    db = tmp_path / "h.db"
    settings = Settings(
        interval=0.2,
        presets=PresetSettings(enabled=False),
        store=StoreSettings(path=db, flush_interval=0.1),
        ingest=IngestSettings(enabled=False),
    )
    broken = settings.store.retention.model_copy(update={"raw_hours": math.inf})
    settings.store = settings.store.model_copy(update={"retention": broken, "prune_every": 0.05})
    caplog.set_level(logging.ERROR, logger="tui_monitor.recorder")
    recorder = Recorder(settings, db)
    stop = asyncio.Event()
    running = asyncio.create_task(recorder.run(stop))

    def failures() -> list[str]:
        return [r.getMessage() for r in caplog.records if "retention pass" in r.getMessage()]

    try:
        deadline = time.monotonic() + WAIT
        while len(failures()) < 2:  # the second pass proves the loop outlived the first
            assert not running.done(), running
            assert time.monotonic() < deadline, f"retention logged {failures()}"
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await running
    assert failures()[0].startswith("retention pass failed: OverflowError: ")
