"""Money as recorded by a real `tui-monitor record`: priced once when it arrives, the same
in replay, after a restart and in exports after the price table changed; and `status`
reads what the recorder holds (reported status, task, cost) while one runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from recorders import rows, run, start_recorder, wait_for, write_config

from tui_monitor.config import load_settings
from tui_monitor.ui.replay import load_view

TABLE = '[prices."m-table"]\ninput = 1000.0\noutput = 2000.0\n'
"""USD per million tokens: 100 in + 100 out = $0.30."""
CHANGED = (
    '[prices."m-table"]\ninput = 1.0\noutput = 1.0\n[prices."m-none"]\ninput = 9.0\noutput = 9.0\n'
)


def emit(sock: Path, agent: str, *args: str) -> None:
    done = run("emit", "--socket", str(sock), "--agent", agent, *args)
    assert done.returncode == 0, done.stderr


def status(db: Path) -> dict[str, object]:
    done = run("status", "--json", "--db", str(db))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert isinstance(doc, dict)
    return doc


def agent_of(doc: dict[str, object], name: str) -> dict[str, object]:
    agents = doc["agents"]
    assert isinstance(agents, list)
    return next(a for a in agents if a["name"] == name)


def test_usage_is_priced_once_and_history_never_changes_after(
    tmp_path: Path, short_dir: Path
) -> None:
    sock, db = short_dir / "ingest.sock", tmp_path / "history.db"
    config = write_config(Path(os.environ["TUI_MONITOR_CONFIG"]), sock, extra=TABLE)
    rec = start_recorder(db, sock, tmp_path / "recorder.log")
    try:
        usage = ("--type", "usage", "--model")
        emit(sock, "coder", *usage, "m-table", "--input-tokens", "100", "--output-tokens", "100")
        emit(sock, "coder", *usage, "m-paid", "--input-tokens", "10", "--cost", "0.5")
        emit(sock, "coder", *usage, "m-none", "--input-tokens", "50000")  # no price anywhere
        wait_for(lambda: len(rows(db, "SELECT id FROM usage")) == 3, what="the usage stored")
        live = status(db)
    finally:
        assert rec.stop() == 0, rec.stderr_text()
    stored = rows(db, "SELECT model, cost_usd, cost_source, tick FROM usage ORDER BY id")
    assert [r[:3] for r in stored] == [
        ("m-table", pytest.approx(0.3), "prices"),  # priced by the table of that moment
        ("m-paid", 0.5, "agent"),
        ("m-none", None, None),  # no price: stays unknown, never free
    ]
    assert live["cost"] == pytest.approx(
        {"today": 0.8, "month": 0.8, "burn_per_hour": 0.8, "unknown": 1, "unknown_today": 1,
         "budgets": []}
    )  # fmt: skip
    assert (agent_of(live, "coder")["cost"], agent_of(live, "coder")["unpriced"]) == (
        pytest.approx(0.8),
        1,
    )

    write_config(config, sock, extra=CHANGED)  # the price table changes afterwards

    # replay of the last tick
    (last,) = rows(db, "SELECT max(id) FROM ticks")[0]
    view = load_view(db, last, load_settings(config))
    assert view is not None and view.snapshot is not None and view.snapshot.cost is not None
    assert (view.snapshot.cost.today, view.snapshot.cost.unknown_today) == (
        pytest.approx(0.8),
        1,
    )
    # an export of that moment, and of the tick that took the usage in
    out = run("export", "snapshot", "--db", str(db), "-o", "-")
    assert out.returncode == 0, out.stderr
    tick = json.loads(out.stdout)["tick"]
    assert tick["cost"]["today"] == pytest.approx(0.8) and tick["cost"]["unknown_today"] == 1
    took = stored[0][3]  # the tick that took the first usage in: the money of that moment
    (ms,) = rows(db, f"SELECT ts FROM ticks WHERE id = {took}")[0]
    out = run("export", "snapshot", "--db", str(db), "--at", f"@{ms / 1000}", "-o", "-")
    assert out.returncode == 0, out.stderr
    tick = json.loads(out.stdout)["tick"]
    mine = [(m, c, src) for m, c, src, t in stored if t == took]
    assert [(u["model"], u["cost_usd"], u["cost_source"]) for u in tick["usage"]] == mine
    assert mine[0] == ("m-table", pytest.approx(0.3), "prices")
    assert tick["cost"]["today"] == pytest.approx(
        sum(c or 0 for *_, c, _, t in stored if t <= took)
    )
    # a restart with the new table: the recorder's ledger starts from the stored costs
    rec = start_recorder(db, sock, tmp_path / "recorder-2.log")
    try:
        again = status(db)
    finally:
        assert rec.stop() == 0, rec.stderr_text()
    assert again["cost"]["today"] == pytest.approx(0.8)  # type: ignore[index]
    assert again["cost"]["unknown_today"] == 1  # type: ignore[index]


def test_status_while_a_recorder_runs_shows_what_agents_report(
    tmp_path: Path, short_dir: Path
) -> None:
    sock, db = short_dir / "ingest.sock", tmp_path / "history.db"
    write_config(Path(os.environ["TUI_MONITOR_CONFIG"]), sock)
    rec = start_recorder(db, sock, tmp_path / "recorder.log")
    try:
        emit(sock, "planner", "--type", "heartbeat", "--status", "needs-approval", "--task",
             "ship ticket 42")  # fmt: skip
        emit(sock, "planner", "--type", "usage", "--model", "m", "--cost", "0.05")
        wait_for(
            lambda: (
                rows(db, "SELECT count(*) FROM usage")[0][0] == 1
                and rows(db, "SELECT count(*) FROM reports WHERE task = 'ship ticket 42'")[0][0]
            ),
            what="the report and the usage stored",
        )
        doc = status(db)
        text = run("status", "--db", str(db))
    finally:
        assert rec.stop() == 0, rec.stderr_text()
    assert doc["source"] == {"from": "recorder", "pid": rec.pid, "db": str(db)}
    planner = agent_of(doc, "planner")
    assert planner["reported"] == "needs-approval" and planner["task"] == "ship ticket 42"
    assert planner["cost"] == pytest.approx(0.05)
    assert text.returncode == 0, text.stderr
    assert f"from the recorder (pid {rec.pid}), tick at " in text.stdout
    line = next(ln for ln in text.stdout.splitlines() if ln.startswith("planner"))
    assert "needs-approval" in line and "$0.05" in line and "ship ticket 42" in line
    # with no recorder: a sample of its own, and it says so
    alone = status(db)
    assert alone["source"] == {"from": "sampled", "note": f"no recorder runs on {db}"}
