"""The history schema, its migrations, and how connections to it are opened.

Sizes matter here: a week of 50 agents at 1 s is 30 million agent samples, so
`agent_samples` is a WITHOUT ROWID table keyed (tick, agent) — appended in key order, so its
pages fill well (88% measured) — with CPU stored as integer tenths of a percent. Timestamps
are epoch milliseconds (`ticks.ts`); rollup buckets are epoch seconds divided by the resolution.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from ..errors import SchemaError, StoreError
from . import files

SCHEMA_VERSION = 7
APPLICATION_ID = 0x544D4F4E
"""`PRAGMA application_id` of our files ("TMON"), so a database of another program is told
apart from ours before anything is written to it."""
BUSY_TIMEOUT_MS = 5000

STATUS_CODES = {
    "running": 1,
    "idle": 2,
    "waiting": 3,
    "stopped": 4,
    "zombie": 5,
    "exited": 6,
    "stale": 7,
    "unknown": 8,  # CPU% not known yet (first sample); no migration: the column is INTEGER
}
STATUS_NAMES = {v: k for k, v in STATUS_CODES.items()}
RAM_KIND_CODES = {"rss": 0, "pss": 1}
"""What an agent sample's memory figure measured (models.AgentSample.ram_kind)."""
RAM_KIND_NAMES: dict[int | None, Literal["pss", "rss"]] = {0: "rss", 1: "pss"}
LEVEL_CODES = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
LEVEL_NAMES = {v: k for k, v in LEVEL_CODES.items()}

RESOLUTIONS = (60, 3600)
"""Rollup bucket widths in seconds: per minute and per hour."""


# Migration N takes a database from user_version N-1 to N. Never edit a released one.
MIGRATIONS: tuple[str, ...] = (
    # 1: raw history
    """
    CREATE TABLE ticks (
        id INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,             -- epoch ms
        seq INTEGER NOT NULL,            -- the sampler's own counter (restarts with it)
        interval REAL NOT NULL,
        lag REAL NOT NULL,
        duration REAL NOT NULL,
        gpu_reason TEXT,                 -- NULL when GPUs were readable
        gpu_driver TEXT
    );
    CREATE INDEX ticks_ts ON ticks(ts);
    CREATE TABLE host_samples (
        tick INTEGER PRIMARY KEY REFERENCES ticks(id),
        hostname TEXT NOT NULL,
        boot_time REAL NOT NULL,
        cpu_count INTEGER NOT NULL,
        cpu REAL,
        cpu_per_core TEXT,               -- JSON list, NULL on a first tick
        load_1 REAL, load_5 REAL, load_15 REAL,
        ram_used INTEGER, ram_total INTEGER, ram_available INTEGER,
        swap_used INTEGER, swap_total INTEGER,
        disk_read REAL, disk_write REAL, net_rx REAL, net_tx REAL
    );
    CREATE TABLE gpu_samples (
        tick INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        uuid TEXT, name TEXT,
        util REAL, mem_util REAL, mem_used INTEGER, mem_total INTEGER,
        temp REAL, power REAL, power_limit REAL,
        error TEXT,
        PRIMARY KEY (tick, idx)
    ) WITHOUT ROWID;
    CREATE TABLE agents (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        first_seen INTEGER NOT NULL,     -- epoch ms
        last_seen INTEGER NOT NULL
    );
    CREATE TABLE agent_runs (            -- one process instance of an agent
        id INTEGER PRIMARY KEY,
        agent INTEGER NOT NULL REFERENCES agents(id),
        pid INTEGER NOT NULL,
        create_time REAL NOT NULL,
        process TEXT NOT NULL,
        cmdline TEXT NOT NULL,
        cwd TEXT,
        user TEXT,
        UNIQUE (agent, pid, create_time)
    );
    CREATE TABLE agent_samples (
        tick INTEGER NOT NULL,
        agent INTEGER NOT NULL,
        run INTEGER,                     -- NULL while not running
        status INTEGER NOT NULL,
        cpu INTEGER,                     -- tenths of a percent of one core
        ram INTEGER,
        gpu_mem INTEGER,
        procs INTEGER NOT NULL,
        threads INTEGER,
        queue_depth INTEGER,
        PRIMARY KEY (tick, agent)
    ) WITHOUT ROWID;
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,             -- epoch ms
        agent TEXT NOT NULL,
        kind TEXT NOT NULL,
        level INTEGER NOT NULL,
        message TEXT NOT NULL,
        data TEXT                        -- JSON object or NULL
    );
    CREATE INDEX events_ts ON events(ts);
    CREATE INDEX events_agent_ts ON events(agent, ts);
    CREATE TABLE errors (
        id INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        agent TEXT NOT NULL,
        error_type TEXT NOT NULL,
        message TEXT NOT NULL,
        stack TEXT,
        resolved INTEGER NOT NULL DEFAULT 0,
        resolved_ts INTEGER
    );
    CREATE INDEX errors_unresolved ON errors(resolved, agent, ts);
    CREATE TABLE usage (
        id INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        agent TEXT NOT NULL,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL,
        request_id TEXT
    );
    CREATE INDEX usage_ts ON usage(ts);
    CREATE UNIQUE INDEX usage_request ON usage(agent, request_id) WHERE request_id IS NOT NULL;
    """,
    # 2: rollups, so long ranges never scan raw rows
    """
    CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        scope TEXT NOT NULL,             -- host | agent | gpu
        entity TEXT NOT NULL,            -- '' for the host, the agent name, the GPU index
        metric TEXT NOT NULL,
        UNIQUE (scope, entity, metric)
    );
    CREATE TABLE rollups (
        series INTEGER NOT NULL,
        res INTEGER NOT NULL,            -- bucket width in seconds: 60 or 3600
        bucket INTEGER NOT NULL,         -- epoch seconds // res
        n INTEGER NOT NULL,
        sum REAL NOT NULL,
        min REAL NOT NULL,
        max REAL NOT NULL,
        PRIMARY KEY (series, res, bucket)
    ) WITHOUT ROWID;
    """,
    # 3: what agents report about themselves, so attached viewers and replays see it too
    """
    CREATE TABLE ingest_stats (                        -- the ingest counters, when they change
        tick INTEGER PRIMARY KEY,
        stats TEXT NOT NULL                            -- JSON
    );
    CREATE TABLE reports (                             -- distinct reported states, shared by ticks
        id INTEGER PRIMARY KEY,
        reported TEXT,                                 -- the status the agent reports
        task TEXT,
        metrics TEXT,                                  -- JSON object or NULL
        last_ts INTEGER NOT NULL                       -- epoch ms of the last tick using it
    );
    CREATE UNIQUE INDEX reports_state ON reports(coalesce(reported, ''), coalesce(task, ''),
                                                 coalesce(metrics, ''));
    CREATE INDEX reports_last ON reports(last_ts);
    ALTER TABLE agent_samples ADD COLUMN report INTEGER;   -- reports.id, NULL: nothing reported
    ALTER TABLE agent_samples ADD COLUMN heartbeat INTEGER; -- epoch ms of the last heartbeat
    """,
    # 4: money priced once, when it is recorded; the processes of every agent sample; what
    # its memory figure measured
    """
    ALTER TABLE usage ADD COLUMN cost_source TEXT;     -- 'agent', 'prices'; NULL: no price
    ALTER TABLE usage ADD COLUMN tick INTEGER;         -- the tick that took it; NULL before 4
    UPDATE usage SET cost_source = 'agent' WHERE cost_usd IS NOT NULL;  -- only agents set it
    CREATE INDEX usage_tick ON usage(tick) WHERE tick IS NOT NULL;
    CREATE TABLE procsets (                            -- distinct process trees, shared by ticks
        id INTEGER PRIMARY KEY,
        tree TEXT NOT NULL UNIQUE,                     -- "pid:ppid pid:ppid ..." by pid
        last_ts INTEGER NOT NULL                       -- epoch ms of the last tick using it
    );
    CREATE INDEX procsets_last ON procsets(last_ts);
    ALTER TABLE agent_samples ADD COLUMN procset INTEGER;  -- procsets.id; NULL: none recorded
    ALTER TABLE agent_samples ADD COLUMN ram_kind INTEGER; -- 1 PSS, 0 RSS; NULL: not known
    """,
    # 5: task boards, as changes: a board at tick T is the newest row of each key up to T
    """
    CREATE TABLE task_states (
        id INTEGER PRIMARY KEY,
        tick INTEGER NOT NULL,           -- ticks.id of the first tick showing this state
        ts INTEGER NOT NULL,             -- epoch ms of that tick (ticks are pruned sooner)
        board TEXT NOT NULL,
        key TEXT NOT NULL,               -- the task's key on its board; '' is the board itself
        card TEXT                        -- JSON of the card (of the board, for ''); NULL: gone
    );
    CREATE INDEX task_states_key ON task_states(board, key, tick);
    CREATE INDEX task_states_tick ON task_states(tick);
    """,
    # 6: the part of cache writes made with a one-hour TTL, priced above five-minute ones; and
    # usage.cost_source may now also be 'builtin' (the built-in price table), a TEXT as before
    """
    ALTER TABLE usage ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;  -- 0 before 6
    """,
    # 7: real agents' sessions read from their own files (sessions/): one row per root
    # session, upserted as it changes; its usage rows name it (subagents' under their root)
    """
    CREATE TABLE sessions (
        family TEXT NOT NULL,            -- claude-code | codex | gemini
        session_id TEXT NOT NULL,
        agent TEXT NOT NULL,             -- the name its usage is recorded under (usage.agent)
        cwd TEXT,
        git_branch TEXT,
        version TEXT,                    -- of the agent program, the latest seen
        models TEXT,                     -- JSON list, in order of first use
        first_ts INTEGER,                -- epoch ms
        last_ts INTEGER,
        PRIMARY KEY (family, session_id)
    ) WITHOUT ROWID;
    CREATE INDEX sessions_last ON sessions(last_ts);
    ALTER TABLE usage ADD COLUMN session TEXT;         -- sessions.session_id; NULL: reported
    CREATE INDEX usage_session ON usage(session, agent) WHERE session IS NOT NULL;
    """,
)
assert len(MIGRATIONS) == SCHEMA_VERSION


def _pragmas(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = OFF")  # integrity is the writer's job; keep inserts lean


def connect_rw(path: Path) -> sqlite3.Connection:
    """The writer's connection: WAL, NORMAL sync (a crash loses at most the open batch).

    The file is checked before anything is written, so a file from a newer tui-monitor, a
    database of some other program or a file that is no database at all is refused
    byte-for-byte untouched. A new file is created 0600 (its -wal and -shm follow), in
    directories created 0700. A place we cannot write is a StoreError, one line.
    """
    files.make_private_dirs(path.parent)
    new = not path.exists()
    if new:
        files.create_private(path)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path}: {exc}", str(exc)) from None
    try:
        _pragmas(conn)
        check_version(conn, path, writable=True)
        if not new:
            files.tighten(path)  # made 0644 by an older tui-monitor: ours, so ours to fix
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA journal_size_limit = 67108864")  # truncate the WAL to 64 MiB
            conn.execute("PRAGMA wal_autocheckpoint = 1000")
            # Appends touch a few hot pages per table; SQLite's default 2 MB page cache only
            # adds resident memory to the dashboard's process (the OS caches the file anyway).
            conn.execute("PRAGMA cache_size = -512")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write {path}: {exc}", str(exc)) from None
    except BaseException:
        conn.close()
        raise
    return conn


def connect_ro(path: Path) -> sqlite3.Connection:
    """A viewer's connection: read-only, never blocks the writer, never writes the file.

    A WAL reader needs the -shm next to the file; on a read-only filesystem (or in a directory
    we may not write) with no -shm there, SQLite cannot open it. When nothing waits in a -wal
    either, every committed page is in the file itself, and it is opened `immutable`.
    """
    if not path.exists():
        raise SchemaError(f"{path}: no such database")
    base = path.resolve().as_uri()
    try:
        conn = _open_ro(f"{base}?mode=ro", path)
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_CANTOPEN:
            raise
        if not files.read_only_place(path):
            raise StoreError(f"cannot open {path}: {exc}", str(exc)) from None
        if files.wal_has_data(path):
            raise StoreError(
                f"cannot read {path}: its directory is read-only and the newest commits wait "
                "in its -wal, which SQLite can only read with a -shm file beside it"
            ) from None
        conn = _open_ro(f"{base}?mode=ro&immutable=1", path)
    return conn


def _open_ro(uri: str, path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        _pragmas(conn)
        check_version(conn, path, writable=False)
    except BaseException:
        conn.close()
        raise
    return conn


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return [r[0] for r in rows]


def check_version(conn: sqlite3.Connection, path: Path, *, writable: bool) -> int:
    """The schema version, refusing files from a newer tui-monitor and databases of other
    programs (never rewritten).

    Ours: `application_id` is APPLICATION_ID, or (files of tui-monitor before it set one)
    0 with a user_version of ours and our tables, or an empty database.
    """
    try:
        version = user_version(conn)
        app = int(conn.execute("PRAGMA application_id").fetchone()[0])
        tables = _tables(conn)
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_CANTOPEN:
            raise  # the file was fine; its place is the problem (the caller says which)
        raise SchemaError(f"{path}: not a tui-monitor database ({exc})") from None
    except sqlite3.DatabaseError as exc:
        raise SchemaError(f"{path}: not a tui-monitor database ({exc})") from None
    if app in (0, APPLICATION_ID) and version > SCHEMA_VERSION:
        raise SchemaError(
            f"{path}: written by a newer tui-monitor (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); refusing to touch it"
        )
    foreign = app not in (0, APPLICATION_ID) or (
        app == 0 and (bool(tables) if version == 0 else "ticks" not in tables)
    )
    if foreign:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        what = f"it holds tables {shown}" if tables else f"application id {app:#x}"
        raise SchemaError(f"{path}: not a tui-monitor database ({what}); refusing to touch it")
    if not writable and version < SCHEMA_VERSION:
        raise SchemaError(
            f"{path}: schema {version} is older than {SCHEMA_VERSION}; "
            "run the recorder once to upgrade it"
        )
    return version


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the schema up to SCHEMA_VERSION, one transaction per step. Returns the old one."""
    start = check_version(conn, path, writable=True)
    try:
        for version in range(start, SCHEMA_VERSION):
            with immediate(conn):
                for statement in _statements(MIGRATIONS[version]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        if int(conn.execute("PRAGMA application_id").fetchone()[0]) != APPLICATION_ID:
            with immediate(conn):  # a file of ours from before the id: mark it
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    except sqlite3.OperationalError as exc:
        raise StoreError(f"cannot write {path}: {exc}", str(exc)) from None
    return start


@contextlib.contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, rolled back on any error unless SQLite already did: a full
    disk or an I/O error can end the transaction by itself, and a second ROLLBACK would then
    fail with "no transaction is active", hiding the real reason."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit on its own)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    assert not buf.strip(), "incomplete statement in migration"
    return out
