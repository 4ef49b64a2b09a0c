"""`tui-monitor sessions`: the real console script against history files filled through the
real writer; expected figures are summed here in plain Python over the records written."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from factories import snapshot

from tui_monitor.models import SessionMeta, UsageRecord
from tui_monitor.store.schema import MIGRATIONS
from tui_monitor.store.writer import Writer

T0 = 1_736_942_400.0  # 2025-01-15 12:00:00 UTC
FIELDS = {
    "source", "session_id", "cwd", "models", "first_ts", "last_ts", "input_tokens",
    "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd",
}  # fmt: skip
HOSTILE_CWD = "/home/u/\x1b[2J\x1b[31mred\u202eevil\nsecond line"
HOSTILE_MODEL = "claude-\x1b]0;owned\x07x\u2067"


def tui_monitor(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "tui-monitor"
    return subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TZ": "UTC", **env},
        stdin=subprocess.DEVNULL,
    )


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def session(family: Any, sid: str, first: float, last: float, **kw: Any) -> SessionMeta:
    prefix = {"claude-code": "claude", "codex": "codex", "gemini": "gemini"}[family]
    return SessionMeta(
        family=family, session_id=sid, agent=f"{prefix}:{sid[:8]}", first_ts=first,
        last_ts=last, **kw,
    )  # fmt: skip


def usage(m: SessionMeta, when: float, request: str, model: str, **kw: Any) -> UsageRecord:
    return UsageRecord(
        ts=at(when), agent=m.agent, session=m.session_id, model=model, request_id=request,
        cost_source="builtin" if kw.get("cost_usd") is not None else None, **kw,
    )  # fmt: skip


CLAUDE = session("claude-code", "0a0b0c0d-1111-2222-3333-444455556666", T0, T0 + 3600,
                 cwd="/srv/app", git_branch="main", version="2.1.3")  # fmt: skip
CODEX = session("codex", "019a2b3c-4d5e-7f00-8899-aabbccddeeff", T0 + 60, T0 + 600, cwd="/w")
GEMINI = session("gemini", "8e1f0000-aaaa-bbbb-cccc-ddddeeeeffff", T0 + 10, T0 + 7200,
                 cwd=HOSTILE_CWD)  # fmt: skip
# Ticks as the recorder would write them: the sessions' changes as they grow, their usage
# (the main thread's and its subagents', all under the root id), a response read twice.
TICKS: list[tuple[list[SessionMeta], list[UsageRecord]]] = [
    (
        [CLAUDE.model_copy(update={"models": ("claude-sonnet-4-5",), "last_ts": T0 + 5})],
        [
            usage(CLAUDE, T0 + 5, "msg_1:req_1", "claude-sonnet-4-5", input_tokens=12,
                  output_tokens=340, cache_read_tokens=15_000, cache_write_tokens=2_000,
                  cache_write_1h_tokens=500, cost_usd=0.061),
        ],
    ),
    (
        [
            CLAUDE.model_copy(update={"models": ("claude-haiku-4-5",)}),
            CODEX.model_copy(update={"models": ("gpt-5-codex",)}),
        ],
        [
            usage(CLAUDE, T0 + 90, "msg_2:req_2", "claude-haiku-4-5", input_tokens=3,
                  output_tokens=1_200, cache_read_tokens=1_234_567, cost_usd=0.5),  # subagent
            usage(CLAUDE, T0 + 5, "msg_1:req_1", "claude-sonnet-4-5", input_tokens=12,
                  output_tokens=999, cost_usd=9.0),  # the same response again: not counted
            usage(CODEX, T0 + 100, "thread-1:1", "gpt-5-codex", input_tokens=900,
                  output_tokens=50, cache_read_tokens=4_000, cost_usd=0.02),
            usage(CODEX, T0 + 200, "thread-1:2", "gpt-5-codex-preview", input_tokens=10,
                  output_tokens=5),  # no price known: the session's cost is unknown
        ],
    ),
    (
        [GEMINI.model_copy(update={"models": (HOSTILE_MODEL, "gemini-2.5-pro")})],
        [
            usage(GEMINI, T0 + 7000, "g-1", "gemini-2.5-pro", input_tokens=1, output_tokens=2,
                  cost_usd=0.125),
        ],
    ),
]  # fmt: skip


def fill(path: Path, ticks: list[tuple[list[SessionMeta], list[UsageRecord]]]) -> None:
    store = Writer(path)
    try:
        for seq, (changes, used) in enumerate(ticks, 1):
            snap = snapshot(seq).model_copy(
                update={"session_changes": tuple(changes), "usage": tuple(used)}
            )
            store.write_batch([snap])
    finally:
        store.close()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sessions") / "history.db"
    fill(path, TICKS)
    return path


def iso(seconds: float) -> str:
    return at(seconds).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def expected() -> list[dict[str, Any]]:
    """What --json must say, from the records above: a request counted the first time."""
    out = []
    for m in (CODEX, CLAUDE, GEMINI):  # by last line
        seen: set[str] = set()
        used = []
        for _, records in TICKS:
            for u in records:
                if u.session == m.session_id and u.request_id not in seen:
                    seen.add(u.request_id or "")
                    used.append(u)
        costs = [u.cost_usd for u in used]
        models = [x for changes, _ in TICKS for c in changes if c.session_id == m.session_id
                  for x in c.models]  # fmt: skip
        out.append({
            "source": m.family, "session_id": m.session_id, "cwd": m.cwd,
            "models": list(dict.fromkeys(models)),
            "first_ts": iso(m.first_ts or 0), "last_ts": iso(m.last_ts or 0),
            "input_tokens": sum(u.input_tokens for u in used),
            "output_tokens": sum(u.output_tokens for u in used),
            "cache_read_tokens": sum(u.cache_read_tokens for u in used),
            "cache_write_tokens": sum(u.cache_write_tokens for u in used),
            "cost_usd": None if None in costs else sum(c for c in costs if c is not None),
        })  # fmt: skip
    return out


def test_json_gives_exactly_the_fields_and_the_sums(db: Path) -> None:
    done = tui_monitor("sessions", "--json", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert done.stdout.isascii() and "\x1b" not in done.stdout
    got = json.loads(done.stdout)
    assert [set(s) for s in got] == [FIELDS] * 3
    want = expected()
    for g, w in zip(got, want, strict=True):
        cost = g.pop("cost_usd")
        w_cost = w.pop("cost_usd")
        assert g == w
        assert cost == (None if w_cost is None else pytest.approx(w_cost, abs=1e-12))
    assert got[1]["cache_read_tokens"] == 15_000 + 1_234_567  # the subagent's is in the parent
    assert got[2]["cwd"] == HOSTILE_CWD  # exact in JSON (escaped by JSON itself)


def test_text_has_one_line_per_session_newest_last_and_escapes_hostile_text(db: Path) -> None:
    done = tui_monitor("sessions", "--db", str(db))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 4, done.stdout  # a header and three sessions: no newline got through
    assert lines[0].split() == ["AGENT", "SESSION", "CWD", "MODELS", "FIRST", "LAST", "INPUT",
                                "OUTPUT", "CACHE", "READ", "CACHE", "WRITE", "COST"]  # fmt: skip
    assert not any(c in done.stdout for c in "\x1b\x07\u202e\u2067")
    codex, claude, gemini = (line.split() for line in lines[1:])
    # models as the session's changes listed them (the recorder's change names every one)
    assert codex == ["codex", CODEX.session_id, "/w", "gpt-5-codex", "2025-01-15", "12:01",
                     "2025-01-15", "12:10", "910", "55", "4,000", "0", "unknown"]  # fmt: skip
    assert claude == ["claude-code", CLAUDE.session_id, "/srv/app", "claude-sonnet-4-5,",
                      "claude-haiku-4-5", "2025-01-15", "12:00", "2025-01-15", "13:00", "15",
                      "1,540", "1,249,567", "2,000", "$0.56"]  # fmt: skip
    assert gemini[:3] == [
        "gemini",
        GEMINI.session_id,
        "/home/u/\\x1b[2J\\x1b[31mred\\u202eevil\\nsecond",
    ]
    assert "claude-\\x1b]0;owned\\x07x\\u2067," in gemini
    assert gemini[-1] == "$0.12"


def test_on_a_narrow_terminal_only_cwd_and_models_are_cut(db: Path) -> None:
    """Figures, times and ids stay whole; CWD and MODELS share what is left, with an ellipsis
    (a terminal too narrow even for that wraps the lines instead)."""
    done = tui_monitor("sessions", "--db", str(db), TTY_COMPATIBLE="1", COLUMNS="170")
    assert done.returncode == 0, done.stderr
    shown = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)  # the table's own styles
    assert "\x1b" not in shown and "\x07" not in shown
    lines = shown.splitlines()
    assert len(lines) == 4 and max(len(line.rstrip()) for line in lines) <= 170
    gemini = lines[3].split()
    assert gemini[:2] == ["gemini", GEMINI.session_id] and gemini[-1] == "$0.12"
    assert any(cell.endswith("…") for cell in gemini)
    assert lines[2].split()[-5:] == ["15", "1,540", "1,249,567", "2,000", "$0.56"]
    narrow = tui_monitor("sessions", "--db", str(db), TTY_COMPATIBLE="1", COLUMNS="40")
    assert [line.split()[-1] for line in re.sub(r"\x1b\[[0-9;]*m", "", narrow.stdout)
            .splitlines()[1:]] == ["unknown", "$0.56", "$0.12"]  # fmt: skip


def test_fit_shares_what_the_figures_leave() -> None:
    from tui_monitor.cli.sessions import WIDE_MIN, _fit

    natural = {"A": 10, "CWD": 40, "MODELS": 30, "B": 8}
    assert _fit(natural, 200) == natural  # room for all: nothing cut
    assert _fit(natural, 10 + 8 + 6 + 50) == {**natural, "CWD": 25, "MODELS": 25}
    assert _fit({**natural, "MODELS": 5}, 10 + 8 + 6 + 30) == {**natural, "CWD": 25, "MODELS": 5}
    assert _fit(natural, 20) == {**natural, "CWD": WIDE_MIN, "MODELS": WIDE_MIN}


@pytest.mark.parametrize(
    ("name", "sources"),
    [
        ("claude", ["claude-code"]),
        ("Claude-Code", ["claude-code"]),
        ("codex", ["codex"]),
        ("gemini-cli", ["gemini"]),
    ],
)
def test_agent_picks_a_family_by_name_or_alias(db: Path, name: str, sources: list[str]) -> None:
    done = tui_monitor("sessions", "--json", "--agent", name, "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert [s["source"] for s in json.loads(done.stdout)] == sources


def test_since_keeps_sessions_active_within_it(tmp_path: Path) -> None:
    now = time.time()
    path = tmp_path / "h.db"
    recent = session("codex", "recent00-1", now - 3 * 86400, now - 3600)
    older = session("codex", "older000-2", now - 20 * 86400, now - 5 * 86400)
    oldest = session("claude-code", "oldest00-3", now - 60 * 86400, now - 30 * 86400)
    fill(path, [([oldest, older, recent], [])])
    for since, want in (("2d", ["recent00-1"]), ("7d", ["older000-2", "recent00-1"]),
                        ("1w", ["older000-2", "recent00-1"]),
                        ("90d", ["oldest00-3", "older000-2", "recent00-1"])):  # fmt: skip
        done = tui_monitor("sessions", "--json", "--since", since, "--db", str(path))
        assert done.returncode == 0, done.stderr
        assert [s["session_id"] for s in json.loads(done.stdout)] == want, since
    none = tui_monitor("sessions", "--since", "30m", "--db", str(path))
    assert (none.returncode, none.stdout) == (0, "No sessions recorded.\n")


def error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if not line.startswith("Usage:")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agent", "cursor"], "unknown agent 'cursor': expected claude-code, codex or gemini"),
        (["--agent", "\x1b[2Jx"], "unknown agent '\\x1b[2Jx'"),
        (["--since", "7x"], "bad duration '7x'"),
        (["--since", "-3d"], "bad duration '-3d'"),
        (["--since", "0s"], "bad duration '0s'"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(db: Path, args: list[str], message: str) -> None:
    done = tui_monitor("sessions", *args, "--db", str(db))
    assert done.returncode == 2
    (line,) = error_lines(done)
    assert line.startswith("tui-monitor: error: ") and message in line, line
    assert done.stdout == ""


def test_no_history_yet_is_a_note_and_no_sessions(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "history.db"
    as_json = tui_monitor("sessions", "--json", "--db", str(path))
    assert (as_json.returncode, json.loads(as_json.stdout)) == (0, [])
    (note,) = as_json.stderr.splitlines()
    assert note.startswith(f"tui-monitor: no history at {path} yet")
    text = tui_monitor("sessions", "--db", str(path))
    assert (text.returncode, text.stdout) == (0, "No sessions recorded.\n")
    assert not path.parent.exists()  # nothing created


def test_reads_while_a_recorder_writes_and_never_writes_itself(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    fill(path, TICKS)
    store = Writer(path)  # the recorder's connection stays open, mid-transaction
    try:
        store.conn.execute("BEGIN IMMEDIATE")
        store.conn.execute("UPDATE sessions SET cwd = 'not yet' WHERE family = 'codex'")
        done = tui_monitor("sessions", "--json", "--db", str(path))
        assert done.returncode == 0, done.stderr
        first = json.loads(done.stdout)[0]
        assert first["cwd"] == "/w"  # committed state only
        store.conn.execute("ROLLBACK")
    finally:
        store.close()


def test_a_history_from_before_sessions_says_to_upgrade_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:6]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 6")
    conn.close()
    # Reading only (no import: session files switched off), an old history is refused...
    done = tui_monitor("sessions", "--db", str(path), TUI_MONITOR_SESSIONS__ENABLED="false")
    assert done.returncode == 2
    assert error_lines(done) == [
        f"tui-monitor: {path}: schema 6 is older than 7; run the recorder once to upgrade it"
    ]
    # ...while the import a `sessions` with no recorder running does is that recorder run.
    done = tui_monitor("sessions", "--json", "--db", str(path))
    assert (done.returncode, json.loads(done.stdout)) == (0, []), done.stderr
