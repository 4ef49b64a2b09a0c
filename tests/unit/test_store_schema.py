"""Schema migrations, version refusal and read-only connections, on real files."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tui_monitor.config import Settings
from tui_monitor.cost.prices import ModelPrice, PriceTable
from tui_monitor.errors import SchemaError
from tui_monitor.models import AgentSample, GpuStatus, HostSample, Snapshot, UsageRecord
from tui_monitor.store import schema
from tui_monitor.store.queries import History
from tui_monitor.store.schema import MIGRATIONS, SCHEMA_VERSION
from tui_monitor.store.writer import Writer
from tui_monitor.ui.replay import load_view

TABLES = {
    "ticks", "host_samples", "gpu_samples", "agents", "agent_runs", "agent_samples", "events",
    "errors", "usage", "series", "rollups", "reports", "ingest_stats", "procsets", "task_states",
    "sessions",
}  # fmt: skip


def one_tick(seq: int = 1, ts: float = 1_700_000_000.0) -> Snapshot:
    host = HostSample(
        hostname="box", boot_time=1.6e9, cpu_count=2, cpu_utilization=5.0, cpu_per_core=None,
        load_1=None, load_5=None, load_15=None, ram_used=1, ram_total=2, ram_available=1,
        swap_used=0, swap_total=0, disk_read_bps=None, disk_write_bps=None, net_rx_bps=None,
        net_tx_bps=None,
    )  # fmt: skip
    agent = AgentSample(name="a", kind="custom", source="config", status="idle", procs=1)
    return Snapshot(
        seq=seq, ts=datetime.fromtimestamp(ts, UTC), interval=1.0, lag=0.0, duration=0.01,
        host=host, gpu=GpuStatus(available=False, reason="off"), agents=(agent,),
    )  # fmt: skip


def tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def future_db(path: Path, *, wal: bool) -> Path:
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE ticks (id INTEGER PRIMARY KEY, ts INTEGER, shiny TEXT)")
    conn.execute("INSERT INTO ticks VALUES (1, 2, 'from the future')")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    return path


def test_migrate_from_empty(tmp_path: Path) -> None:
    path = tmp_path / "new" / "history.db"
    store = Writer(path)
    try:
        assert store.migrated_from == 0
        assert schema.user_version(store.conn) == SCHEMA_VERSION == len(MIGRATIONS)
        assert tables(store.conn) == TABLES
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == schema.BUSY_TIMEOUT_MS
    finally:
        store.close()
    again = Writer(path)  # a second open migrates nothing
    assert again.migrated_from == SCHEMA_VERSION
    again.close()
    ro = schema.connect_ro(path)
    try:
        assert ro.execute("PRAGMA busy_timeout").fetchone()[0] == schema.BUSY_TIMEOUT_MS
        assert ro.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        ro.close()


def test_migrate_from_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.executescript(
        """
        INSERT INTO ticks VALUES (1, 1700000000000, 7, 1.0, 0.0, 0.01, 'off', NULL);
        INSERT INTO host_samples (tick, hostname, boot_time, cpu_count, ram_used, ram_total,
            ram_available, swap_used, swap_total) VALUES (1, 'box', 1.6e9, 2, 1, 2, 1, 0, 0);
        INSERT INTO agents VALUES (1, 'old', 'custom', 'config', 1700000000000, 1700000000000);
        INSERT INTO agent_samples (tick, agent, status, procs) VALUES (1, 1, 2, 0);
        INSERT INTO events (ts, agent, kind, level, message) VALUES (1700000000000, 'old',
            'note', 20, 'before the upgrade');
        PRAGMA user_version = 1;
        """
    )
    conn.close()
    with pytest.raises(SchemaError, match=f"schema 1 is older than {SCHEMA_VERSION}"):
        History(path).latest()  # a viewer never upgrades a file itself

    store = Writer(path)
    assert store.migrated_from == 1
    assert schema.user_version(store.conn) == SCHEMA_VERSION and tables(store.conn) == TABLES
    assert store.conn.execute("SELECT count(*) FROM rollups").fetchone()[0] == 0
    batch = store.write_batch([one_tick(seq=8, ts=1_700_000_001.0)])
    store.close()
    assert (batch.first_tick, batch.last_tick) == (2, 2)  # ids continue after the old rows

    h = History(path)
    old = h.at(1_700_000_000.5)
    assert old is not None and old.seq == 7 and [a.name for a in old.agents] == ["old"]
    assert [e.message for e in old.events] == ["before the upgrade"]
    new = h.latest()
    assert new is not None and new.seq == 8 and [a.name for a in new.agents] == ["a"]
    assert h.info().rows["agents"] == 2


def test_future_version_refused_by_store_file_untouched(tmp_path: Path) -> None:
    path = future_db(tmp_path / "future.db", wal=False)
    before = digest(path)
    with pytest.raises(SchemaError, match="schema 99"):
        Writer(path)
    assert digest(path) == before


def test_future_wal_version_refused_by_store(tmp_path: Path) -> None:
    path = future_db(tmp_path / "future.db", wal=True)
    before = digest(path)
    with pytest.raises(SchemaError, match=r"newer tui-monitor \(schema 99"):
        Writer(path)
    assert digest(path) == before


@pytest.mark.parametrize("wal", [False, True])
def test_future_version_refused_by_history(tmp_path: Path, wal: bool) -> None:
    path = future_db(tmp_path / "future.db", wal=wal)
    before = digest(path)
    knows = rf"newer tui-monitor \(schema 99, this one knows {SCHEMA_VERSION}\)"
    with pytest.raises(SchemaError, match=knows):
        History(path).latest()
    with pytest.raises(SchemaError, match="schema 99"):
        History(path).info()
    assert digest(path) == before


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "noise.db"
    path.write_bytes(b"definitely not SQLite " + os.urandom(4000))
    before = digest(path)
    with pytest.raises(SchemaError, match="not a tui-monitor database"):
        History(path).latest()
    with pytest.raises(SchemaError, match="not a tui-monitor database"):
        History(path).check()
    assert digest(path) == before


def test_not_a_database_refused_by_store(tmp_path: Path) -> None:
    path = tmp_path / "noise.db"
    path.write_bytes(b"definitely not SQLite " + os.urandom(4000))
    with pytest.raises(SchemaError, match="not a tui-monitor database"):
        Writer(path)


def test_connect_ro_never_creates_or_writes(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(SchemaError, match="no such database"):
        schema.connect_ro(missing)
    assert not missing.exists()

    path = tmp_path / "history.db"
    store = Writer(path)
    store.write_batch([one_tick()])
    store.close()
    stat = path.stat()
    before = digest(path)
    conn = schema.connect_ro(path)
    try:
        assert conn.execute("SELECT count(*) FROM ticks").fetchone()[0] == 1
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM ticks")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("PRAGMA user_version = 4")
    finally:
        conn.close()
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    assert digest(path) == before


def test_empty_file_is_an_old_schema_for_readers(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(SchemaError, match="schema 0 is older"):
        History(path).latest()
    assert path.stat().st_size == 0


def test_migration_4_keeps_agents_costs_and_leaves_unpriced_usage_unknown(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:3]:
        conn.executescript(script)
    ms = 1_699_999_999_000
    conn.executescript(
        f"""
        INSERT INTO usage (ts, agent, model, input_tokens, cost_usd) VALUES
            ({ms}, 'coder', 'm-paid', 10, 0.5), ({ms}, 'coder', 'm-table', 1000000, NULL);
        PRAGMA user_version = 3;
        """
    )
    conn.close()
    store = Writer(path)
    assert store.migrated_from == 3
    assert store.conn.execute("SELECT cost_usd, cost_source, tick FROM usage").fetchall() == [
        (0.5, "agent", None),  # only agents ever set a cost before
        (None, None, None),  # no price then: the table of today does not price it after
    ]
    store.write_batch([one_tick()])
    (tick,) = store.conn.execute("SELECT max(id) FROM ticks").fetchone()
    store.close()
    prices = PriceTable({"m-table": ModelPrice(input=3.0, output=3.0)})
    view = load_view(path, tick, Settings(prices=prices))
    assert view is not None and view.snapshot is not None and view.snapshot.cost is not None
    cost = view.snapshot.cost
    assert (cost.today, cost.unknown_today, cost.month, cost.unknown) == (0.5, 1, 0.5, 1)


def test_migration_6_adds_one_hour_cache_writes_and_keeps_old_rows_readable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:5]:
        conn.executescript(script)
    ms = 1_699_999_999_000
    conn.executescript(  # a schema-5 file: costs from agents and from the config's table
        f"""
        INSERT INTO usage (ts, agent, model, input_tokens, cache_write_tokens, cost_usd,
                           request_id, cost_source) VALUES
            ({ms}, 'coder', 'm-paid', 10, 0, 0.5, 'r1', 'agent'),
            ({ms}, 'coder', 'm-table', 1000, 300, 0.25, NULL, 'prices'),
            ({ms}, 'coder', 'm-none', 7, 0, NULL, NULL, NULL);
        PRAGMA user_version = 5;
        """
    )
    conn.close()
    store = Writer(path)
    assert store.migrated_from == 5 and schema.user_version(store.conn) == SCHEMA_VERSION
    hour = UsageRecord(
        ts=datetime.fromtimestamp(1_700_000_000.0, UTC), agent="coder", model="claude-x",
        input_tokens=3, cache_write_tokens=800, cache_write_1h_tokens=600, cost_usd=0.01,
        cost_source="builtin",
    )  # fmt: skip
    store.write_batch([one_tick().model_copy(update={"usage": (hour,)})])
    (tick,) = store.conn.execute("SELECT max(id) FROM ticks").fetchone()
    store.close()

    got = [r for _, r in History(path).usage_since(0)]
    assert [
        (r.model, r.cache_write_tokens, r.cache_write_1h_tokens, r.cost_usd, r.cost_source)
        for r in got
    ] == [
        ("m-paid", 0, 0, 0.5, "agent"),
        ("m-table", 300, 0, 0.25, "prices"),  # written before 6: no one-hour part known
        ("m-none", 0, 0, None, None),
        ("claude-x", 800, 600, 0.01, "builtin"),
    ]
    view = load_view(path, tick, Settings())  # replay reads the tick's own usage back
    assert view is not None and view.snapshot is not None
    assert view.snapshot.usage == (hour,)
