"""Alert rules: duration, hysteresis (no flapping), config defaults, inputs, and on_alert."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.factories import GiB, agent, host, snapshot, two_gpus
from tui_monitor.alerts import (
    AlertChange,
    AlertEngine,
    AlertRule,
    AlertSettings,
    parse_size,
    run_on_alert,
    run_on_alert_async,
    values_from,
)
from tui_monitor.models import GpuSample, GpuStatus

T0 = 1_700_000_000.0


def rule(**kw: Any) -> AlertRule:
    data = {"name": "r", "metric": "cpu", "threshold": 80.0, "clear": 0.0} | kw
    return AlertRule.model_validate(data)


def feed(
    engine: AlertEngine, series: list[Any], key: tuple[str, str] = ("cpu", "planner")
) -> list[tuple[int, str]]:
    """One reading per second; returns (second, state) for every change."""
    out: list[tuple[int, str]] = []
    for i, v in enumerate(series):
        for c in engine.evaluate(T0 + i, {key: v}):
            out.append((i, c.state))
    return out


# -- duration ----------------------------------------------------------------------------


def test_fires_only_after_for_seconds_of_continuous_breach() -> None:
    engine = AlertEngine([rule(**{"for": 3})])
    assert feed(engine, [90, 90, 90, 90, 90]) == [(3, "firing")]
    [active] = engine.active()
    assert active.since == T0 and active.subject == "planner"


def test_an_interrupted_breach_restarts_the_timer() -> None:
    engine = AlertEngine([rule(**{"for": 3})])
    assert feed(engine, [90, 90, 90, 50, 90, 90, 90, 90]) == [(7, "firing")]


def test_fire_message_is_one_line_with_value_threshold_and_duration() -> None:
    engine = AlertEngine([rule(**{"for": 30})])
    changes = [c for i in range(31) for c in engine.evaluate(T0 + i, {("cpu", "planner"): 93})]
    [c] = changes
    assert c.message == "planner cpu 93% > 80% for 30s"
    assert (c.rule, c.subject, c.metric, c.severity) == ("r", "planner", "cpu", "warning")
    assert (c.value, c.threshold, c.since, c.at) == (93, 80.0, T0, T0 + 30)


# -- hysteresis ---------------------------------------------------------------------------


def test_value_oscillating_around_threshold_fires_once_and_does_not_flap() -> None:
    engine = AlertEngine([rule(clear=10)])
    assert feed(engine, [79, 81] * 20) == [(1, "firing")]
    assert len(engine.active()) == 1


def test_without_hysteresis_the_same_series_would_flap() -> None:
    """The test above can fail: with clear 0 every crossing is a change."""
    engine = AlertEngine([rule(clear=0)])
    assert len(feed(engine, [79, 81] * 5)) == 9


def test_clears_after_clear_for_seconds_below_threshold_minus_clear() -> None:
    engine = AlertEngine([rule(clear=10, clear_for=3)])
    # fire, in the band (70 < 75), clear for 1 s, back in the band (timer resets), clear 3 s
    series = [95, 75, 65, 65, 75, 65, 65, 65, 65]
    assert feed(engine, series) == [(0, "firing"), (8, "cleared")]
    assert engine.active() == []


def test_clear_message_and_since() -> None:
    engine = AlertEngine([rule(clear=10, clear_for=2)])
    changes = [
        c
        for i, v in enumerate([95, 60, 60, 60])
        for c in engine.evaluate(T0 + i, {("cpu", "a"): v})
    ]
    cleared = changes[-1]
    assert cleared.state == "cleared" and cleared.since == T0 + 1 and cleared.at == T0 + 3
    assert cleared.message == "a cpu back to 60% (<= 70%) for 2s"


def test_less_than_rule_fires_below_and_clears_above_threshold_plus_clear() -> None:
    engine = AlertEngine([rule(op="<", threshold=5, clear=3, clear_for=0, **{"for": 1})])
    assert feed(engine, [10, 4, 4, 6, 4, 7, 9]) == [(2, "firing"), (6, "cleared")]


def test_clear_for_defaults_to_for() -> None:
    r = rule(**{"for": 5})
    assert r.clear_seconds == 5
    assert rule(**{"for": 5, "clear_for": 1}).clear_seconds == 1


# -- bool metrics, budgets, filters --------------------------------------------------------


@pytest.mark.parametrize(("metric", "fired", "back"), [
    ("stale", "w1 is stale", "w1 is no longer stale"),
    ("exited", "w1 has exited", "w1 is back"),
])  # fmt: skip
def test_bool_metrics_fire_and_clear(metric: str, fired: str, back: str) -> None:
    engine = AlertEngine([AlertRule(name="b", metric=metric)])  # type: ignore[arg-type]
    key = (metric, "w1")
    msgs = [
        (c.state, c.message, c.threshold)
        for i, v in enumerate([False, True, True, False, False])
        for c in engine.evaluate(T0 + i, {key: v})
    ]
    assert msgs == [("firing", fired, None), ("cleared", back, None)]


def test_budget_warning_at_80_then_critical_at_100_as_separate_rules() -> None:
    engine = AlertEngine(AlertSettings())
    seen = []
    for i, pct in enumerate([50.0, 79.9, 80.0, 95.0, 100.0, 120.0]):
        seen += [(c.rule, c.severity) for c in engine.evaluate(T0 + i, {("budget", "daily"): pct})]
    assert seen == [("budget-80", "warning"), ("budget-100", "critical")]
    assert [a.rule for a in engine.active()] == ["budget-100", "budget-80"]  # critical first
    assert engine.active()[0].message == "budget daily 120% >= 100%"


def test_agents_filter_takes_names_and_globs() -> None:
    engine = AlertEngine([rule(agents=["worker#*", "planner"])])
    values = {("cpu", n): 95.0 for n in ("worker#1", "worker#12", "planner", "planner2", "x")}
    fired = {c.subject for c in engine.evaluate(T0, values)}
    assert fired == {"worker#1", "worker#12", "planner"}


def test_none_values_change_nothing() -> None:
    engine = AlertEngine([rule(**{"for": 2})])
    # No reading neither breaks the pending breach nor starts one.
    assert feed(engine, [None, 90, None, 90]) == [(3, "firing")]
    # Nor clears a firing alert.
    assert feed(engine, [None] * 5) == []
    assert len(engine.active()) == 1


def test_a_vanished_subject_clears_after_clear_for_with_reason_gone() -> None:
    engine = AlertEngine([rule(clear_for=2)])
    assert engine.evaluate(T0, {("cpu", "a"): 95, ("cpu", "b"): 95})
    assert engine.evaluate(T0 + 1, {("cpu", "b"): 95}) == []  # a missing for 0 s
    assert engine.evaluate(T0 + 2, {("cpu", "b"): 95}) == []
    [c] = engine.evaluate(T0 + 3, {("cpu", "b"): 95})
    assert (c.subject, c.state, c.reason, c.value) == ("a", "cleared", "gone", 95)
    assert c.message == "a is gone; r alert cleared"
    assert [a.subject for a in engine.active()] == ["b"]


def test_a_subject_back_before_clear_for_keeps_its_alert() -> None:
    engine = AlertEngine([rule(clear_for=5)])
    key = ("cpu", "a")
    changes = [engine.evaluate(T0 + i, {key: 95} if i % 2 == 0 else {}) for i in range(12)]
    assert [c.state for cs in changes for c in cs] == ["firing"]


def test_untrusted_subject_is_escaped_in_the_message() -> None:
    engine = AlertEngine([AlertRule(name="s", metric="stale")])
    [c] = engine.evaluate(T0, {("stale", "evil\x1b[2J\nname"): True})
    assert "\x1b" not in c.message and "\n" not in c.message
    assert c.subject == "evil\x1b[2J\nname"  # the raw key stays usable as a key


# -- config -------------------------------------------------------------------------------


def test_defaults_when_no_rules_given() -> None:
    names = [r.name for r in AlertSettings().effective_rules()]
    assert names == [
        "cpu", "mem", "gpu-temp", "errors", "stale", "exited", "needs-input", "budget-80",
        "budget-100",
    ]  # fmt: skip
    cpu = AlertSettings().effective_rules()[0]
    assert (cpu.threshold, cpu.for_, cpu.clear_margin) == (80, 30, 10)


def test_user_rules_replace_defaults_unless_defaults_true() -> None:
    mine = {"name": "cpu", "metric": "cpu", "threshold": 50}
    alone = AlertSettings.model_validate({"rules": [mine]}).effective_rules()
    assert [(r.name, r.threshold) for r in alone] == [("cpu", 50)]
    merged = AlertSettings.model_validate({"rules": [mine], "defaults": True}).effective_rules()
    assert len(merged) == 9 and [r.threshold for r in merged if r.name == "cpu"] == [50]
    assert AlertSettings.model_validate({"defaults": False}).effective_rules() == []
    assert AlertSettings.model_validate({"rules": []}).effective_rules() == []
    assert AlertSettings(enabled=False).effective_rules() == []


def test_toml_shape() -> None:
    data = tomllib.loads(
        """
bell = true
on_alert = ["notify-send", "tui-monitor"]
[[rules]]
name = "planner-mem"
metric = "mem"
threshold = "2GiB"
clear = "256MiB"
for = 60
agents = ["planner*"]
severity = "critical"
"""
    )
    s = AlertSettings.model_validate(data)
    [r] = s.effective_rules()
    assert (r.threshold, r.clear_margin, r.for_, r.clear_seconds) == (2 * GiB, 256 * 2**20, 60, 60)
    assert s.bell and s.on_alert == ["notify-send", "tui-monitor"]


@pytest.mark.parametrize(("text", "expected"), [
    ("1GiB", GiB), ("512MB", 512e6), ("2G", 2 * GiB), ("1.5 gib", 1.5 * GiB), ("100", 100),
    ("64k", 65536), ("3Mi", 3 * 2**20),
])  # fmt: skip
def test_sizes(text: str, expected: float) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(("data", "loc", "words"), [
    ({"metric": "disk", "threshold": 1}, ("metric",), "Input should be"),
    ({"metric": "cpu", "threshold": 1, "for": -1}, ("for",), "greater than or equal to 0"),
    ({"metric": "cpu"}, (), "threshold is required"),
    ({"metric": "mem", "threshold": "lots"}, ("threshold",), "not a size"),
    ({"metric": "cpu", "threshold": "1GiB"}, ("threshold",), "valid number"),
    ({"metric": "gpu_temp", "threshold": 80, "agents": ["a"]}, (), "per-agent metrics"),
    ({"metric": "cpu", "threshold": 5, "clear": 10}, (), "could never clear"),
    ({"metric": "cpu", "threshold": 5, "bogus": 1}, ("bogus",), "Extra inputs"),
    ({"metric": "cpu", "threshold": float("nan")}, ("threshold",), "finite"),
])  # fmt: skip
def test_invalid_rule_names_the_field(
    data: dict[str, Any], loc: tuple[str, ...], words: str
) -> None:
    with pytest.raises(ValidationError) as info:
        AlertSettings.model_validate({"rules": [{"name": "x"} | data]})
    err = info.value.errors()[0]
    assert err["loc"] == ("rules", 0, *loc)
    assert words in err["msg"]


def test_invalid_settings() -> None:
    rules = [{"name": "a", "metric": "stale"}, {"name": "a", "metric": "exited"}]
    with pytest.raises(ValidationError, match="defined twice"):
        AlertSettings.model_validate({"rules": rules})
    with pytest.raises(ValidationError, match="list of arguments"):
        AlertSettings.model_validate({"on_alert": "notify-send hi"})
    with pytest.raises(ValidationError, match="program"):
        AlertSettings.model_validate({"on_alert": []})
    with pytest.raises(ValidationError, match="must not be empty"):
        AlertSettings.model_validate({"rules": [{"name": "a", "metric": "stale", "agents": [""]}]})


# -- inputs -------------------------------------------------------------------------------


def test_values_from_snapshot() -> None:
    gpus = two_gpus()
    broken = GpuSample(index=2, error="not responding")
    gpu = GpuStatus(available=True, gpus=(*gpus.gpus, broken))
    snap = snapshot(
        1,
        [
            agent("planner", cpu=93.0, mem=2048.0),
            agent("w#1", status="stale", cpu=None),
            agent("gone", status="exited"),
        ],
        gpu=gpu,
        host_sample=host(cpu=41.0),
    )
    v = values_from(
        snap,
        unresolved={"planner": 12, "ghost": 3},
        error_rate={"w#1": 2.5},
        budgets=[("daily", 83.0)],
    )
    assert v["host_cpu", ""] == 41.0
    assert v["cpu", "planner"] == 93.0 and v["mem", "planner"] == 2048 * 2**20
    assert v["cpu", "w#1"] is None  # no reading: no change
    assert v["cpu", "gone"] == 0.0 and v["mem", "gone"] == 0.0  # exited uses nothing
    assert (v["stale", "w#1"], v["stale", "planner"]) == (True, False)
    assert (v["exited", "gone"], v["exited", "planner"]) == (True, False)
    assert v["errors", "planner"] == 12 and v["errors", "w#1"] == 0 and v["errors", "ghost"] == 3
    assert v["error_rate", "w#1"] == 2.5 and v["error_rate", "planner"] == 0.0
    assert v["gpu_temp", "0"] == 55.0 and v["gpu_temp", "1"] == 65.0
    assert v["gpu_mem", "0"] == pytest.approx(25.0) and v["gpu_mem", "1"] == pytest.approx(37.5)
    assert v["gpu_temp", "2"] is None and v["gpu_mem", "2"] is None
    assert v["budget", "daily"] == 83.0


def test_default_rules_over_a_snapshot() -> None:
    snap = snapshot(1, [agent("fat", mem=1500.0), agent("thin", mem=100.0)])
    engine = AlertEngine(AlertSettings())
    values = values_from(snap, unresolved={}, error_rate={}, budgets=[])
    [c] = engine.evaluate(T0, values)
    assert (c.rule, c.subject, c.message) == ("mem", "fat", "fat mem 1.5 GiB > 1.0 GiB")


# -- on_alert -----------------------------------------------------------------------------

DUMP_ENV = """
import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith("TUI_MONITOR_ALERT_")}
with open(sys.argv[1], "w") as f:
    json.dump({"env": env, "argv": sys.argv[2:]}, f)
"""


def change(subject: str = "planner") -> AlertChange:
    return AlertChange(
        rule="cpu",
        subject=subject,
        metric="cpu",
        state="firing",
        value=93.5,
        threshold=80.0,
        severity="warning",
        since=T0,
        at=T0 + 30,
        message=f"{subject} cpu 94% > 80% for 30s",
    )


async def test_on_alert_gets_env_and_no_shell_interpretation(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    out = tmp_path / "env.json"
    subject = f"$(touch {marker}); rm -rf {tmp_path} `touch {marker}` \x00nul"
    argv = [sys.executable, "-c", DUMP_ENV, str(out), "$HOME", "; rm x"]
    assert await run_on_alert_async(argv, change(subject), timeout=20) is None
    got = json.loads(out.read_text())
    env = got["env"]
    assert env["TUI_MONITOR_ALERT_SUBJECT"] == subject.replace("\x00", "\\x00")
    assert env["TUI_MONITOR_ALERT_RULE"] == "cpu"
    assert env["TUI_MONITOR_ALERT_STATE"] == "firing"
    assert env["TUI_MONITOR_ALERT_METRIC"] == "cpu"
    assert env["TUI_MONITOR_ALERT_VALUE"] == "93.5"
    assert env["TUI_MONITOR_ALERT_THRESHOLD"] == "80"
    assert env["TUI_MONITOR_ALERT_SEVERITY"] == "warning"
    assert env["TUI_MONITOR_ALERT_SINCE"] == f"{T0:.3f}"
    assert env["TUI_MONITOR_ALERT_MESSAGE"].startswith("$(touch")
    assert got["argv"] == ["$HOME", "; rm x"]
    assert not marker.exists() and tmp_path.exists()


async def test_on_alert_missing_program_is_a_problem_line() -> None:
    problem = await run_on_alert_async(["/nonexistent/tui-monitor-hook"], change(), timeout=5)
    assert problem is not None and "program not found" in problem and "\n" not in problem


async def test_on_alert_failure_exit_reports_status_and_last_stderr_line() -> None:
    argv = [sys.executable, "-c", "import sys; print('noise', file=sys.stderr); sys.exit('boom')"]
    problem = await run_on_alert_async(argv, change(), timeout=20)
    assert problem is not None and "exited with status 1: boom" in problem


async def test_on_alert_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        "time.sleep(60)\n"
    )
    argv = [sys.executable, "-c", script]
    problem = await asyncio.wait_for(run_on_alert_async(argv, change(), timeout=3), 20)
    assert problem is not None and "killed" in problem and "\n" not in problem
    # On a very slow machine the script may not have got as far as writing its pids.
    started = [int(p) for p in pids.read_text().split()] if pids.exists() else []
    try:
        for pid in started:
            deadline = time.monotonic() + 5
            while alive(pid):  # SIGKILL is delivered asynchronously
                assert time.monotonic() < deadline, f"process {pid} survived the timeout"
                await asyncio.sleep(0.02)
    finally:
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


async def test_on_alert_returns_when_the_command_exits_though_a_daemon_keeps_stderr(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "daemon.pid"
    script = (
        "import subprocess, sys\n"
        "d = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],\n"
        "                     start_new_session=True)\n"
        f"open({str(pid_file)!r}, 'w').write(str(d.pid))\n"
        "sys.exit(3)\n"
    )
    try:
        argv = [sys.executable, "-c", script]
        problem = await asyncio.wait_for(run_on_alert_async(argv, change(), timeout=30), 15)
        assert problem is not None and "exited with status 3" in problem
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


async def test_on_alert_not_executable_is_a_problem_line(tmp_path: Path) -> None:
    hook = tmp_path / "hook.sh"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o644)
    problem = await run_on_alert_async([str(hook)], change(), timeout=5)
    # root may execute nothing without an x bit either, so this is the same for everyone
    assert problem is not None and "permission denied" in problem


def alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (killed, not yet reaped by init) counts as dead."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_run_on_alert_from_a_worker_thread(tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    argv = [sys.executable, "-c", DUMP_ENV, str(out)]
    assert await asyncio.to_thread(run_on_alert, argv, change(), timeout=20) is None
    assert json.loads(out.read_text())["env"]["TUI_MONITOR_ALERT_SUBJECT"] == "planner"
    assert "TUI_MONITOR_ALERT_SUBJECT" not in os.environ
    # On the loop itself it refuses (it would block it) instead of raising.
    problem = run_on_alert(argv, change(), timeout=20)
    assert problem is not None and "run_on_alert_async" in problem


# -- needs input ------------------------------------------------------------------------


def waiting(name: str, state: str = "needs_input", status: str = "idle") -> Any:
    from tui_monitor.models import SessionMeta, SessionState

    meta = SessionMeta(family="claude-code", session_id=f"{name}-id", agent=f"claude:{name}")
    s = SessionState(meta=meta, state=state, state_source="hook", state_reason="permission",
                     state_tool="Bash", state_since=T0)  # type: ignore[arg-type]  # fmt: skip
    return agent(name, status=status).model_copy(update={"session": s})


async def test_needs_input_for_two_minutes_fires_through_the_tick_and_runs_on_alert(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    from tui_monitor.alerts.tick import AlertTick

    out = tmp_path / "alert.json"
    script = tmp_path / "dump.py"
    script.write_text(DUMP_ENV)
    tick = AlertTick(AlertSettings(on_alert=[sys.executable, str(script), str(out)]))

    def at(t: float, *agents: Any) -> list[Any]:
        snap = snapshot(1, list(agents)).model_copy(update={"ts": datetime.fromtimestamp(t, UTC)})
        events = tick.apply(snap).events
        return [e for e in events if e.kind == "alert" and e.data["rule"] == "needs-input"]

    assert at(T0, waiting("a"), waiting("b", state="working")) == []
    assert at(T0 + 119, waiting("a"), waiting("b", state="working")) == []
    [fired] = at(T0 + 120, waiting("a"), waiting("b", state="working"))
    assert (fired.agent, fired.data["rule"], fired.data["state"]) == ("a", "needs-input", "firing")
    assert fired.message == "a needs input for 2m00s"
    await tick.close()
    env = json.loads(out.read_text())["env"]
    assert env["TUI_MONITOR_ALERT_RULE"] == "needs-input"
    assert env["TUI_MONITOR_ALERT_SUBJECT"] == "a"
    [cleared] = at(T0 + 130, waiting("a", state="working"))  # at once: it went on
    assert cleared.data["state"] == "cleared" and cleared.message == "a no longer needs input"
    # A process that says worse (exited) is not waiting for anyone.
    assert at(T0 + 200, waiting("c", status="exited")) == []
    assert at(T0 + 400, waiting("c", status="exited")) == []
    await tick.close()


def test_needs_input_rule_can_be_timed_or_turned_off() -> None:
    sooner = {"name": "needs-input", "metric": "needs_input", "for": 30}
    rules = AlertSettings.model_validate({"rules": [sooner], "defaults": True}).effective_rules()
    assert [r.for_ for r in rules if r.name == "needs-input"] == [30]
    off = {**sooner, "enabled": False}
    rules = AlertSettings.model_validate({"rules": [off], "defaults": True}).effective_rules()
    assert "needs-input" not in [r.name for r in rules]
    engine = AlertEngine(rules)
    snap = snapshot(1, [waiting("a")])
    values = values_from(snap, unresolved={}, error_rate={}, budgets=[])
    assert values["needs_input", "a"] is True
    assert engine.evaluate(T0, values) == engine.evaluate(T0 + 999, values) == []
