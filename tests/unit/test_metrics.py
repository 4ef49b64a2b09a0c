"""/metrics' families: names and units by Prometheus's conventions, the state sets, folding
and the cap, the counters, and that no free text ever leaves (metrics/)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from factories import BASE, agent, event, fleet, fleet_events, snapshot, two_gpus
from prometheus_client.parser import text_string_to_metric_families

from tui_monitor.metrics.agents import STATES, STATUSES
from tui_monitor.metrics.exposition import Exposition
from tui_monitor.metrics.labels import OTHER, AgentSlots, ModelSlots, fold_instance
from tui_monitor.metrics.settings import MetricsSettings
from tui_monitor.models import (
    AgentSample,
    CostState,
    ErrorRecord,
    IngestStats,
    OtlpStatus,
    SessionMeta,
    SessionState,
    Snapshot,
    UsageRecord,
)
from tui_monitor.store.schema import LEVEL_NAMES

DOCS = Path(__file__).resolve().parents[2] / "docs"
UNITS = ("_bytes", "_seconds", "_ratio", "_celsius", "_watts", "_usd", "_per_second")


def render(*snaps: Snapshot, **settings: object) -> str:
    e = Exposition(MetricsSettings.model_validate(settings), levels=LEVEL_NAMES)
    for s in snaps:
        e.update(s)
    return e.render(e.view()).decode()


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """`name`'s samples: sorted labels -> value."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


def by_agent(text: str, name: str) -> dict[str, float]:
    return {dict(k)["agent"]: v for k, v in samples(text, name).items()}


def live(name: str, state: str, **kw: object) -> AgentSample:
    meta = SessionMeta(family="claude-code", session_id="s-" + name, agent="claude:" + name)
    return agent(name, **kw).model_copy(  # type: ignore[arg-type]
        update={"session": SessionState(meta=meta, state=state)}  # type: ignore[arg-type]
    )


def full_snapshot() -> Snapshot:
    snap = snapshot(1, fleet(), fleet_events(), gpu=two_gpus())
    return snap.model_copy(
        update={
            "ingest": IngestStats(received=7, stored=5, rejected=2, connections=1),
            "otlp": OtlpStatus(listening="127.0.0.1:4318", requests=3),
            "cost": CostState(today=1.5, month=20.0, burn_per_hour=0.1),
        }
    )


def test_names_and_units_follow_the_conventions() -> None:
    text = render(full_snapshot())
    families = list(text_string_to_metric_families(text))
    assert len(families) > 50
    for f in families:
        assert f.name.startswith("tui_monitor_"), f.name
        assert f.documentation, f.name
        assert re.fullmatch(r"[a-z][a-z0-9_]*", f.name), f.name
        if f.type == "counter":
            assert all(s.name == f.name + "_total" for s in f.samples), f.name
        else:
            assert f.type == "gauge", f.name
            assert not f.name.endswith("_total"), f.name
        for bad in ("percent", "_ms", "_mb", "milliseconds", "kilobytes", "_bps"):
            assert bad not in f.name, f.name
    # the units are in the names, in base units
    assert samples(text, "tui_monitor_host_memory_total_bytes")[()] == 64 * 2**30
    assert samples(text, "tui_monitor_host_cpu_ratio")[()] == pytest.approx(0.235)
    gpu = samples(text, "tui_monitor_gpu_utilization_ratio")
    assert gpu[(("gpu", "0"),)] == pytest.approx(0.45)
    assert samples(text, "tui_monitor_gpu_memory_used_bytes")[(("gpu", "1"),)] == 30 * 2**30
    assert by_agent(text, "tui_monitor_agent_cpu_ratio")["planner"] == pytest.approx(0.425)
    assert samples(text, "tui_monitor_recorder_tick_lag_seconds")
    assert samples(text, "tui_monitor_ingest_rejected_total")[()] == 2
    assert samples(text, "tui_monitor_cost_month_usd")[()] == 20.0


def test_every_metric_is_documented_and_every_documented_one_exported() -> None:
    text = render(full_snapshot())
    exported = {f.name + ("_total" if f.type == "counter" else "")
                for f in text_string_to_metric_families(text)}  # fmt: skip
    doc = (DOCS / "metrics.md").read_text()
    documented = set(re.findall(r"^\| `(tui_monitor_[a-z0-9_]+)`", doc, re.MULTILINE))
    # the session families appear only with session readers, the size with a database
    assert exported - documented == set()
    assert documented - exported <= {
        "tui_monitor_history_db_bytes",
        "tui_monitor_sessions_backfilling",
        "tui_monitor_sessions_backlog_bytes",
        "tui_monitor_sessions_known",
        "tui_monitor_sessions_problems_total",
    }


def test_grafana_dashboard_uses_only_metrics_we_export() -> None:
    dash = json.loads((DOCS / "grafana-dashboard.json").read_text())
    doc = (DOCS / "metrics.md").read_text()
    documented = set(re.findall(r"^\| `(tui_monitor_[a-z0-9_]+)`", doc, re.MULTILINE))
    exprs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "definition", "query") and isinstance(value, str):
                    exprs.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(dash)
    used = {n for e in exprs for n in re.findall(r"tui_monitor_[a-z0-9_]+", e)}
    assert len(exprs) > 20 and len(used) > 20
    assert used - documented == set()
    # the panels the issue asks for are there
    for name in ("tui_monitor_agent_cpu_ratio", "tui_monitor_agent_memory_bytes",
                 "tui_monitor_agent_gpu_memory_bytes", "tui_monitor_agent_status",
                 "tui_monitor_agents_in_state", "tui_monitor_tokens_total",
                 "tui_monitor_cost_usd_total", "tui_monitor_open_errors",
                 "tui_monitor_recorder_tick_lag_seconds"):  # fmt: skip
        assert name in used


def test_status_and_state_are_state_sets() -> None:
    rows = [
        agent("coder", status="idle"),
        live("claude", "needs_input", status="running"),
        live("gemini", "working", status="running"),
    ]
    text = render(snapshot(1, rows))
    status = samples(text, "tui_monitor_agent_status")
    for name in ("coder", "claude", "gemini"):
        mine = {dict(k)["status"]: v for k, v in status.items() if dict(k)["agent"] == name}
        assert set(mine) == set(STATUSES)
        assert sum(mine.values()) == 1
    assert status[(("agent", "coder"), ("status", "idle"))] == 1
    state = samples(text, "tui_monitor_agent_state")
    assert {dict(k)["agent"] for k in state} == {"claude", "gemini"}  # coder has no state
    assert state[(("agent", "claude"), ("state", "needs_input"))] == 1
    assert sum(v for k, v in state.items() if dict(k)["agent"] == "claude") == 1
    assert len(state) == 2 * len(STATES)
    counts = {dict(k)["state"]: v for k, v in samples(text, "tui_monitor_agents_in_state").items()}
    assert counts["needs_input"] == 1 and counts["working"] == 1 and counts["quiet"] == 0
    rows_by = {dict(k)["status"]: v for k, v in samples(text, "tui_monitor_agents").items()}
    assert rows_by == {**dict.fromkeys(STATUSES, 0.0), "idle": 1, "running": 2}


def test_instances_fold_into_their_name() -> None:
    rows = [
        agent("coder", cpu=10.0, mem=100.0, procs=2, status="idle"),
        agent("coder#2", cpu=30.0, mem=50.0, procs=1, status="running"),
        agent("coder#3", cpu=None, mem=None, procs=1, status="exited"),
    ]
    text = render(snapshot(1, rows))
    assert by_agent(text, "tui_monitor_agent_cpu_ratio") == {"coder": pytest.approx(0.4)}
    assert by_agent(text, "tui_monitor_agent_instances") == {"coder": 3}
    assert by_agent(text, "tui_monitor_agent_processes") == {"coder": 3}  # exited: none
    assert by_agent(text, "tui_monitor_agent_memory_bytes") == {"coder": 150 * 2**20}
    status = samples(text, "tui_monitor_agent_status")
    assert status[(("agent", "coder"), ("status", "running"))] == 1  # the most active
    unfolded = render(snapshot(1, rows), fold_instances=False)
    assert set(by_agent(unfolded, "tui_monitor_agent_instances")) == {
        "coder", "coder#2", "coder#3"
    }  # fmt: skip
    assert fold_instance("a#b") == "a#b" and fold_instance("#3") == "#3"


def test_agents_past_the_cap_are_summed_into_other_and_counted() -> None:
    rows = [agent(f"a{i:02d}", cpu=1.0) for i in range(12)]
    text = render(snapshot(1, rows), max_agents=10)
    instances = by_agent(text, "tui_monitor_agent_instances")
    assert len(instances) == 11
    assert instances[OTHER] == 2
    assert "a00" in instances and "a11" not in instances  # newcomers in name order
    assert samples(text, "tui_monitor_agents_folded")[()] == 2
    status = samples(text, "tui_monitor_agent_status")
    assert len(status) == 11 * len(STATUSES)  # bounded however many agents


def test_an_agent_keeps_its_slot_while_present() -> None:
    slots = AgentSlots(2)
    assert slots.assign(["b", "c"]) == ({"b": "b", "c": "c"}, 0)
    # "a" sorts first but arrives later: b and c keep their series
    assert slots.assign(["a", "b", "c"]) == ({"a": OTHER, "b": "b", "c": "c"}, 1)
    assert slots.assign(["a", "c"]) == ({"a": "a", "c": "c"}, 0)  # b left: a gets its slot


def test_model_labels_are_capped_for_the_recorders_life() -> None:
    models = ModelSlots(2)
    assert [models.of(m) for m in ("x", "y", "z", "x")] == ["x", "y", OTHER, "x"]


def usage(model: str, ts: datetime, rid: str | None = None, cost: float | None = 0.5,
          agent_name: str = "coder") -> UsageRecord:  # fmt: skip
    return UsageRecord(ts=ts, agent=agent_name, model=model, input_tokens=100,
                       output_tokens=20, cache_read_tokens=5, cost_usd=cost,
                       request_id=rid)  # fmt: skip


def test_token_and_cost_counters_by_model() -> None:
    e = Exposition(MetricsSettings(max_models=2), levels=LEVEL_NAMES)
    now = datetime.now(UTC)
    old = datetime.fromtimestamp(e.tally.started - 3600, UTC)
    first = snapshot(1).model_copy(update={"usage": (
        usage("opus", now, "r1"), usage("opus", now, "r1"),  # told twice: counted once
        usage("haiku", now, cost=None), usage("opus", old, "r0"),  # before the start: not
    )})  # fmt: skip
    e.update(first)
    text = e.render(e.view()).decode()
    tokens = samples(text, "tui_monitor_tokens_total")
    assert tokens[(("model", "opus"), ("type", "input"))] == 100
    assert tokens[(("model", "opus"), ("type", "cache_read"))] == 5
    assert samples(text, "tui_monitor_requests_total")[(("model", "opus"),)] == 1
    assert samples(text, "tui_monitor_cost_usd_total")[(("model", "opus"),)] == 0.5
    assert samples(text, "tui_monitor_unpriced_requests_total")[(("model", "haiku"),)] == 1
    assert e.tally.backfill == 1
    second = snapshot(2).model_copy(update={"usage": (
        usage("opus", now, "r2"), usage("sonnet", now), usage("gpt", now),
    )})  # fmt: skip
    e.update(second)
    text = e.render(e.view()).decode()
    requests = samples(text, "tui_monitor_requests_total")
    assert requests == {(("model", "opus"),): 2, (("model", "haiku"),): 1,
                        (("model", OTHER),): 2}  # fmt: skip


def test_events_by_level_count_flood_rows_too() -> None:
    snap = snapshot(1, [], fleet_events()).model_copy(
        update={
            "event_rows": [(0, "a", "k", 40, "m", None)] * 3,
            "errors": (ErrorRecord(ts=BASE, agent="a", error_type="E", message="m"),),
        }
    )
    text = render(snap, snap)
    levels = {dict(k)["level"]: v for k, v in samples(text, "tui_monitor_events_total").items()}
    assert levels == {"debug": 4, "info": 4, "warning": 4, "error": 2 * 2 + 6, "critical": 2}
    assert samples(text, "tui_monitor_errors_reported_total")[()] == 2


def test_no_free_text_leaves() -> None:
    secret = "s3cr3t-do-not-export"
    hostile = agent(
        "evil\x1b[31m\u202e" + "x" * 300,
        cmdline=f"python agent.py --api-key {secret}",
    ).model_copy(update={"cwd": f"/home/{secret}", "task": f"task {secret}",
                         "reported": secret, "metrics": {secret: 1.0}})  # fmt: skip
    snap = snapshot(1, [hostile], [event("evil", secret, f"message {secret}", level="error")])
    snap = snap.model_copy(update={
        "errors": (ErrorRecord(ts=BASE, agent="evil", error_type=secret, message=secret,
                               stack=secret),),
        "ingest": IngestStats(last_rejection=secret, listening=secret),
        "otlp": OtlpStatus(last_rejection=secret, listening=secret),
    })  # fmt: skip
    text = render(snap)
    assert secret not in text
    assert "\x1b" not in text and "\u202e" not in text
    (name,) = by_agent(text, "tui_monitor_agent_instances")
    assert name.startswith("evil\\x1b[31m\\u202e") and len(name) <= 64


def test_before_the_first_tick_there_is_nothing_to_render() -> None:
    e = Exposition(MetricsSettings())
    assert e.view() is None and e.render(None) == b""


def test_settings_refuse_remote_and_bad_addresses() -> None:
    assert MetricsSettings().listen is None
    assert MetricsSettings(listen="127.0.0.1:9464").address() == ("127.0.0.1", 9464)
    assert MetricsSettings(listen="[::1]:9464").address() == ("::1", 9464)
    with pytest.raises(ValueError, match="not a loopback address"):
        MetricsSettings(listen="0.0.0.0:9464")
    assert MetricsSettings(listen="0.0.0.0:9464", allow_remote=True).listen
    for bad in ("9464", "host:0", ":9464", "127.0.0.1:99999"):
        with pytest.raises(ValueError):
            MetricsSettings(listen=bad)
    with pytest.raises(ValueError):
        MetricsSettings(max_agents=0)


@pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool not installed (Debian package prometheus; make test-tools)",
)
def test_promtool_check_metrics_passes_on_our_output() -> None:  # fmt: skip
    rows = [*fleet(), live("claude", "needs_input")]
    snap = full_snapshot().model_copy(update={"agents": tuple(rows), "usage": (
        usage("opus", datetime.now(UTC)),)})  # fmt: skip
    text = render(snap)
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "" and done.stderr.strip() == ""
