"""Sessions in the history: migration 7, the writer's upserts, the summaries and the recorder's
seed, on real files written by the real writer; expected figures are summed here in plain
Python over the records written, never through the product's queries."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from factories import snapshot

from tui_monitor.config import RetentionSettings
from tui_monitor.models import SessionMeta, SessionTokens, Snapshot, UsageRecord
from tui_monitor.store import schema
from tui_monitor.store.queries import History
from tui_monitor.store.retention import prune
from tui_monitor.store.schema import MIGRATIONS, SCHEMA_VERSION
from tui_monitor.store.writer import Writer

T0 = 1_736_942_400.0  # 2025-01-15 12:00:00 UTC


def ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def meta(sid: str, family: Any = "claude-code", **kw: Any) -> SessionMeta:
    prefix = {"claude-code": "claude", "codex": "codex", "gemini": "gemini"}[family]
    return SessionMeta(family=family, session_id=sid, agent=f"{prefix}:{sid[:8]}", **kw)


def use(m: SessionMeta, at: float, request: str | None, **kw: Any) -> UsageRecord:
    kw.setdefault("model", "claude-sonnet-4-5")
    return UsageRecord(ts=ts(at), agent=m.agent, session=m.session_id, request_id=request, **kw)


def tick(
    seq: int, changes: Sequence[SessionMeta] = (), usage: Sequence[UsageRecord] = ()
) -> Snapshot:
    return snapshot(seq, ts=ts(seq)).model_copy(
        update={"session_changes": tuple(changes), "usage": tuple(usage)}
    )


def write(path: Path, *batches: Iterable[Snapshot]) -> None:
    store = Writer(path)
    try:
        for batch in batches:
            store.write_batch(list(batch))
    finally:
        store.close()


def stored(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT family, session_id, agent, cwd, git_branch, version, models, first_ts, "
            "last_ts FROM sessions ORDER BY family, session_id"
        ).fetchall()
    finally:
        conn.close()


# -- migration 7 --------------------------------------------------------------------------


def schema_of(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        objects = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name"
        ).fetchall()
        columns = [
            (t, *c)
            for (t,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
            for c in conn.execute(f'PRAGMA table_xinfo("{t}")')
        ]
        return sorted(objects) + sorted(columns, key=repr)
    finally:
        conn.close()


def schema_6_file(path: Path) -> None:
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:6]:
        conn.executescript(script)
    ms = 1_736_000_000_000
    conn.executescript(  # a schema-6 file with reported usage, priced and not
        f"""
        INSERT INTO usage (ts, agent, model, input_tokens, output_tokens, cache_write_tokens,
                           cache_write_1h_tokens, cost_usd, request_id, cost_source) VALUES
            ({ms}, 'coder', 'm-paid', 10, 5, 100, 40, 0.5, 'r1', 'agent'),
            ({ms + 1}, 'coder', 'm-none', 7, 0, 0, 0, NULL, NULL, NULL);
        PRAGMA user_version = 6;
        """
    )
    conn.close()


def test_migration_7_keeps_old_usage_and_adds_sessions(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    schema_6_file(path)
    m = meta("5e55-0000-aaaa", cwd="/w", models=("claude-opus-4-1",), first_ts=T0, last_ts=T0)
    store = Writer(path)
    try:
        assert store.migrated_from == 6 and schema.user_version(store.conn) == 7
        store.write_batch([tick(1, [m], [use(m, 1, "req-1", input_tokens=3)])])
    finally:
        store.close()
    got = [(r.agent, r.model, r.input_tokens, r.session) for _, r in History(path).usage_since(0)]
    assert got == [
        ("coder", "m-paid", 10, None),  # reported before 7: no session
        ("coder", "m-none", 7, None),
        (m.agent, "claude-sonnet-4-5", 3, m.session_id),
    ]
    (summary,) = History(path).session_summaries()
    assert (summary.session_id, summary.tokens.input, summary.records) == (m.session_id, 3, 1)


def test_a_fresh_file_has_the_schema_of_a_migrated_one(tmp_path: Path) -> None:
    old, fresh = tmp_path / "old.db", tmp_path / "fresh.db"
    schema_6_file(old)
    write(old)
    write(fresh)
    assert SCHEMA_VERSION == 7
    assert schema_of(fresh) == schema_of(old)
    names = {row[1] for row in schema_of(fresh)}
    assert {"sessions", "sessions_last", "usage_session"} <= names


# -- the writer ---------------------------------------------------------------------------


def test_a_session_grows_over_ticks_by_upserts(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    sid = "0a0b0c0d-1111-2222-3333-444455556666"
    first = meta(sid, cwd="/proj", version="1.0.30", models=("claude-sonnet-4-5",),
                 first_ts=T0 + 10, last_ts=T0 + 10)  # fmt: skip
    # a later look: a new branch and model, no cwd said (kept), the agent name never changes
    second = first.model_copy(
        update={"cwd": None, "git_branch": "main", "version": "1.0.31", "agent": "other",
                "models": ("claude-opus-4-1", "claude-sonnet-4-5"), "last_ts": T0 + 50}
    )  # fmt: skip
    # a subagent file read late: an earlier first line, an older model, nothing else
    third = meta(sid, models=("claude-haiku-4-5",), first_ts=T0 + 5, last_ts=T0 + 20)
    write(path, [tick(1, [first])], [tick(2, [second]), tick(3, [third])])
    assert stored(path) == [
        ("claude-code", sid, "claude:0a0b0c0d", "/proj", "main", "1.0.31",
         '["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"]',
         (T0 + 5) * 1000, (T0 + 50) * 1000),
    ]  # fmt: skip
    (seed, _) = History(path).session_seed(0, 0)
    assert seed == [
        (
            SessionMeta(
                family="claude-code", session_id=sid, agent="claude:0a0b0c0d", cwd="/proj",
                git_branch="main", version="1.0.31",
                models=("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"),
                first_ts=T0 + 5, last_ts=T0 + 50,
            ),
            SessionTokens(),
        )
    ]  # fmt: skip


def test_sessions_of_families_are_apart_and_times_may_be_unknown(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    a = meta("same-id-0000", "claude-code")
    b = meta("same-id-0000", "codex", models=("gpt-5-codex",), last_ts=T0)
    write(path, [tick(1, [a, b])], [tick(2, [a.model_copy(update={"first_ts": T0 - 1})])])
    assert stored(path) == [
        ("claude-code", "same-id-0000", "claude:same-id-", None, None, None, "[]",
         (T0 - 1) * 1000, None),
        ("codex", "same-id-0000", "codex:same-id-", None, None, None, '["gpt-5-codex"]',
         None, T0 * 1000),
    ]  # fmt: skip


def test_a_failed_batch_leaves_no_session_behind(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    m = meta("abcdef01-2", last_ts=T0)
    store = Writer(path)
    try:
        store.conn.execute(
            "CREATE TRIGGER no BEFORE INSERT ON errors BEGIN SELECT RAISE(ABORT, 'x'); END"
        )
        bad = tick(1, [m]).model_copy(update={"errors": (_error(m.agent),)})
        with pytest.raises(sqlite3.IntegrityError):
            store.write_batch([bad])
        assert store.conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
        store.conn.execute("DROP TRIGGER no")
        store.write_batch([bad])  # the same batch again goes in whole
    finally:
        store.close()
    assert len(stored(path)) == 1


def _error(agent: str) -> Any:
    from tui_monitor.models import ErrorRecord

    return ErrorRecord(ts=ts(1), agent=agent, error_type="api_error", message="overloaded")


def test_usage_keeps_its_session_and_a_request_id_counts_once(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    m = meta("feedface-0001", last_ts=T0 + 2)
    once = use(m, 1, "msg_1:req_1", input_tokens=10, output_tokens=1)
    again = use(m, 2, "msg_1:req_1", input_tokens=10, output_tokens=99)  # read again later
    other = use(m, 2, "msg_2:req_2", input_tokens=5, cost_usd=0.25, cost_source="builtin")
    write(path, [tick(1, [m], [once, once])], [tick(2, [], [again, other])])
    got = [r for _, r in History(path).usage_since(0)]
    assert got == [once, other]
    assert {r.session for r in got} == {m.session_id}
    (summary,) = History(path).session_summaries()
    assert (summary.records, summary.tokens.input, summary.tokens.output) == (2, 15, 1)
    assert (summary.cost_usd, summary.unpriced) == (None, 1)  # one of them has no price


# -- summaries: exactness against plain Python ---------------------------------------------

FAMILIES = ("claude-code", "codex", "gemini")
MODELS = ("claude-sonnet-4-5", "claude-opus-4-1", "gpt-5-codex", "gemini-2.5-pro")


def random_history(rng: random.Random, sessions: int = 12, ticks: int = 40) -> tuple[
    list[list[Snapshot]], list[SessionMeta], list[UsageRecord]
]:  # fmt: skip
    """Ticks in a few batches: sessions seen again and again, usage with repeated request ids
    (some priced, some not), reported usage of no session in between."""
    metas = [
        meta(f"{i:04x}{rng.randrange(16**8):08x}-s", FAMILIES[i % 3], cwd=f"/p/{i}")
        for i in range(sessions)
    ]
    all_usage: list[UsageRecord] = []
    snaps: list[Snapshot] = []
    for seq in range(1, ticks + 1):
        changes, usage = [], []
        for m in rng.sample(metas, rng.randrange(0, 4)):
            model = rng.choice(MODELS)
            changes.append(
                m.model_copy(update={"models": (model,), "first_ts": T0 + seq, "last_ts": T0 + seq})
            )
            for _ in range(rng.randrange(1, 4)):
                priced = rng.random() < 0.9
                usage.append(
                    use(
                        m,
                        seq,
                        f"r{rng.randrange(60)}",
                        model=model,
                        input_tokens=rng.randrange(1000),
                        output_tokens=rng.randrange(500),
                        cache_read_tokens=rng.randrange(5000),
                        cache_write_tokens=(cw := rng.randrange(300)),
                        cache_write_1h_tokens=rng.randrange(cw + 1),
                        cost_usd=round(rng.random(), 6) if priced else None,
                        cost_source="builtin" if priced else None,
                    )
                )
        usage.append(UsageRecord(ts=ts(seq), agent="reporter", model="m", input_tokens=7))
        all_usage += usage
        snaps.append(tick(seq, changes, usage))
    batches = [snaps[i : i + 7] for i in range(0, len(snaps), 7)]
    return batches, metas, all_usage


def expected(metas: list[SessionMeta], usage: list[UsageRecord]) -> dict[str, dict[str, Any]]:
    """Per session id: the sums of its usage, a request id counted the first time only."""
    seen: set[tuple[str, str]] = set()
    out: dict[str, dict[str, Any]] = {
        m.session_id: {
            "n": 0,
            "in": 0,
            "out": 0,
            "cr": 0,
            "cw": 0,
            "cw1h": 0,
            "cost": 0.0,
            "unpriced": 0,
        }
        for m in metas
    }
    for u in usage:
        if u.session is None:
            continue
        if u.request_id is not None:
            if (u.agent, u.request_id) in seen:
                continue
            seen.add((u.agent, u.request_id))
        e = out[u.session]
        e["n"] += 1
        e["in"] += u.input_tokens
        e["out"] += u.output_tokens
        e["cr"] += u.cache_read_tokens
        e["cw"] += u.cache_write_tokens
        e["cw1h"] += u.cache_write_1h_tokens
        if u.cost_usd is None:
            e["unpriced"] += 1
        else:
            e["cost"] += u.cost_usd
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summaries_equal_plain_sums_over_what_was_written(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    batches, metas, usage = random_history(rng)
    path = tmp_path / "h.db"
    write(path, *batches)
    want = expected(metas, usage)
    got = History(path).session_summaries()
    touched = {m.session_id for b in batches for s in b for m in s.session_changes}
    assert {s.session_id for s in got} == touched
    assert [s.last_ts for s in got] == sorted(s.last_ts for s in got)  # type: ignore[type-var]
    for s in got:
        e = want[s.session_id]
        t = s.tokens
        assert (s.records, t.input, t.output, t.cache_read, t.cache_write, t.cache_write_1h) == (
            e["n"], e["in"], e["out"], e["cr"], e["cw"], e["cw1h"]
        )  # fmt: skip
        assert s.unpriced == e["unpriced"]
        if e["unpriced"]:
            assert s.cost_usd is None  # unknown, never a smaller figure
        else:
            assert s.cost_usd == pytest.approx(e["cost"], rel=1e-12)
        first_use = [
            c.models[0] for b in batches for snap in b for c in snap.session_changes
            if c.session_id == s.session_id
        ]  # fmt: skip
        assert s.models == tuple(dict.fromkeys(first_use))
    assert any(s.cost_usd is None for s in got) and any(s.cost_usd for s in got)


def test_summaries_filter_by_last_line_and_family(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    a = meta("aaaa0000", "claude-code", first_ts=T0, last_ts=T0 + 100)
    b = meta("bbbb0000", "codex", first_ts=T0, last_ts=T0 + 200)
    c = meta("cccc0000", "gemini", first_ts=T0, last_ts=T0 + 300)
    free = meta("dddd0000", "claude-code", first_ts=T0, last_ts=T0)
    write(path, [tick(1, [c, b, a, free], [use(a, 1, "x", input_tokens=1)])])
    h = History(path)
    ids = lambda found: [s.session_id for s in found]  # noqa: E731
    assert ids(h.session_summaries()) == ["dddd0000", "aaaa0000", "bbbb0000", "cccc0000"]
    assert ids(h.session_summaries(since_ms=int((T0 + 200) * 1000))) == ["bbbb0000", "cccc0000"]
    assert ids(h.session_summaries(families={"claude-code"})) == ["dddd0000", "aaaa0000"]
    assert ids(h.session_summaries(int((T0 + 50) * 1000), ["codex", "claude-code"])) == [
        "aaaa0000", "bbbb0000"
    ]  # fmt: skip
    assert h.session_summaries(families=()) == []
    (nothing,) = h.session_summaries(families=["claude-code"], since_ms=0)[:1]
    assert (nothing.records, nothing.cost_usd, nothing.unpriced) == (0, 0.0, 0)  # none used


# -- the recorder's seed ------------------------------------------------------------------


def test_seed_gives_recent_sessions_with_totals_and_recent_keys(tmp_path: Path) -> None:
    rng = random.Random(7)
    batches, metas, usage = random_history(rng, sessions=6, ticks=30)
    path = tmp_path / "h.db"
    write(path, *batches)
    want = expected(metas, usage)
    since, keys_since = T0 + 10, T0 + 20
    seeds, keys = History(path).session_seed(int(since * 1000), int(keys_since * 1000))
    last = {s.session_id: s.last_ts for s in History(path).session_summaries()}
    assert {m.session_id for m, _ in seeds} == {
        sid for sid, t in last.items() if t is not None and t.timestamp() >= since
    }
    for m, tokens in seeds:
        e = want[m.session_id]
        assert tokens == SessionTokens(
            input=e["in"], output=e["out"], cache_read=e["cr"], cache_write=e["cw"],
            cache_write_1h=e["cw1h"],
        )  # fmt: skip
        assert m.agent.split(":")[0] in ("claude", "codex", "gemini")
    firsts: dict[tuple[str, str], UsageRecord] = {}
    for u in usage:
        if u.session is not None and u.request_id is not None:
            firsts.setdefault((u.agent, u.request_id), u)
    assert keys == [k for k, u in firsts.items() if u.ts.timestamp() >= keys_since]


def test_seed_skips_a_family_it_does_not_know(tmp_path: Path) -> None:
    """A family a later tui-monitor adds (no schema change needed) never stops a restart."""
    path = tmp_path / "h.db"
    known = meta("known000", last_ts=T0)
    write(path, [tick(1, [known])])
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO sessions (family, session_id, agent, last_ts) "
        "VALUES ('cursor', 'x', 'cursor:x', ?)",
        (int(T0 * 1000),),
    )
    conn.commit()
    conn.close()
    seeds, _ = History(path).session_seed(0, 0)
    assert [m.session_id for m, _ in seeds] == ["known000"]
    assert [s.family for s in History(path).session_summaries()] == ["claude-code", "cursor"]


# -- retention ----------------------------------------------------------------------------


def test_retention_keeps_a_session_while_any_of_its_usage_is(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    day = 86400
    now = T0 + 40 * day
    ret = RetentionSettings(hour_days=10)  # usage is kept 10 days
    gone = meta("gone0000", first_ts=T0, last_ts=T0)  # old, all of its usage pruned
    late = meta("late0000", first_ts=T0, last_ts=T0)  # old last line, but usage still kept
    empty = meta("empty000", first_ts=now - 11 * day, last_ts=now - 11 * day)  # no usage
    young = meta("young000", first_ts=now - 9 * day, last_ts=now - 9 * day)  # no usage
    store = Writer(path)
    try:
        store.write_batch([tick(1, [gone, late, empty, young], [use(gone, 1, "g")])])
        store.conn.execute(
            "INSERT INTO usage (ts, agent, model, session) VALUES (?, ?, 'm', ?)",
            (int((now - day) * 1000), late.agent, late.session_id),
        )
        result = prune(store.conn, now, ret)
    finally:
        store.close()
    assert (result.usage, result.sessions) == (1, 2)
    assert [r[1] for r in stored(path)] == ["late0000", "young000"]


# -- fast on a month of usage -------------------------------------------------------------


def plan(conn: sqlite3.Connection, sql: str, params: Sequence[object]) -> str:
    return " | ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def test_the_queries_read_through_indexes(tmp_path: Path) -> None:
    from tui_monitor.store import retention, sessions

    path = tmp_path / "h.db"
    write(path)
    conn = schema.connect_ro(path)
    try:
        summary = sessions._SUMMARY.format(where="WHERE s.last_ts >= ?")
        got = plan(conn, summary, (0,))
        assert "USING INDEX sessions_last" in got, got
        assert "usage_session" in got and "SCAN u" not in got, got
        everything = plan(conn, sessions._SUMMARY.format(where=""), ())
        assert "usage_session" in everything and "SCAN u" not in everything, everything
        keys = plan(conn, sessions._KEYS, (0,))
        assert "USING INDEX usage_ts" in keys, keys
        prune_plan = plan(conn, retention._LIMITED["sessions"], (0, 1))
        assert "usage_session" in prune_plan and "sessions_last" in prune_plan, prune_plan
    finally:
        conn.close()


# -- every reader of usage carries the session ---------------------------------------------


def test_every_way_back_to_usage_records_keeps_the_session(tmp_path: Path) -> None:
    from tui_monitor.export.snapshot import read_moment, read_snapshot, snapshot_document
    from tui_monitor.store.frames import follow

    path = tmp_path / "h.db"
    m = meta("cafe0001-x", last_ts=T0 + 1)
    record = use(m, 1, "q1", input_tokens=4, cost_usd=0.5, cost_source="builtin")
    reported = UsageRecord(ts=ts(1), agent="reporter", model="m", input_tokens=1)
    write(path, [tick(1, [m], [record, reported])])
    h = History(path)
    assert [r for _, r in h.usage_since(0)] == [record, reported]  # History
    latest = h.latest()  # a tick read back, as replay reads it
    assert latest is not None and latest.usage == (record, reported)
    assert follow(path, None, 0).usage == [record, reported]  # attached viewers
    moment = read_moment(path, ts(1))  # export and replay's cost_at path
    assert moment.snapshot.usage == (record, reported)
    doc = snapshot_document(moment.snapshot)
    assert doc["tick"]["usage"][0]["session"] == m.session_id
    assert read_snapshot(doc).usage == (record, reported)
    _, recent, _ = h.usage_seed(0, 0, 0, 0, 10)  # the ledger's seed
    assert recent == [record, reported]
