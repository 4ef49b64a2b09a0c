"""Agent rows with real agents' sessions on them, as the recorder's sessions book will hand
them to the UI (AgentSample.session, `source="session"` rows, Snapshot.sessions), built by
hand from the models' contract: the UI's tests need no transcript files."""

from __future__ import annotations

from collections.abc import Sequence

from factories import BASE, agent, snapshot

from tui_monitor.models import (
    AgentSample,
    AgentState,
    RateWindow,
    SessionFamily,
    SessionMeta,
    SessionsStatus,
    SessionState,
    SessionTokens,
    Snapshot,
)

NOW = BASE.timestamp()
CLAUDE_TOKENS = SessionTokens(
    input=12_000, output=48_000, cache_read=1_150_000, cache_write=90_000, cache_write_1h=30_000
)
CLAUDE_TOKENS = SessionTokens(
    input=12_000, output=48_000, cache_read=1_150_000, cache_write=90_000, cache_write_1h=30_000
)


def session(
    agent_name: str,
    *,
    family: SessionFamily = "claude-code",
    session_id: str = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    models: Sequence[str] = ("claude-sonnet-4-5-20250929",),
    state: AgentState | None = "working",
    state_source: str | None = "files",
    tokens: SessionTokens | None = None,
    cost_today: float | None = 1.25,
    cost_month: float | None = 18.5,
    unpriced: int = 0,
    cwd: str = "/home/dev/shop",
    **more: object,
) -> SessionState:
    """A session recorded under `agent_name`, its last line 4 s before BASE."""
    meta = SessionMeta(
        family=family,
        session_id=session_id,
        agent=agent_name,
        cwd=cwd,
        git_branch="main",
        version="2.0.14",
        models=tuple(models),
        first_ts=NOW - 5400,
        last_ts=NOW - 4,
    )
    return SessionState(
        meta=meta,
        tokens=tokens or CLAUDE_TOKENS,
        cost_today=cost_today,
        cost_month=cost_month,
        unpriced=unpriced,
        state=state,
        state_source=None if state is None else state_source,  # type: ignore[arg-type]
        state_since=None if state is None else NOW - 30,
        **more,  # type: ignore[arg-type]
    )


def codex_windows() -> tuple[RateWindow, ...]:
    """Codex's two windows: five hours (42% used) and a week (81%)."""
    return (
        RateWindow(window_minutes=300, used_percent=42.0, resets_at=NOW + 7980, ts=NOW - 60),
        RateWindow(window_minutes=10080, used_percent=81.0, resets_at=NOW + 3 * 86400, ts=NOW),
    )


def session_fleet() -> list[AgentSample]:
    """Two plain agents, a Claude Code and a Codex process each joined to its session (one
    working, one idle: its turn finished), and a Claude session whose process is gone."""
    claude = agent("claude", kind="claude-code", source="preset", cpu=12.5, mem=420.0, pid=5100)
    codex = agent("codex", kind="codex", source="preset", cpu=0.3, mem=180.0, pid=5200)
    gone = AgentSample(
        name="claude:9f8e7d6c",
        kind="claude-code",
        source="session",
        status="exited",
        cwd="/home/dev/old",
    )
    return [
        agent("planner", cpu=42.5, mem=812.0, pid=4101, procs=3, uptime=7260),
        agent("vllm", kind="inference", source="preset", cpu=130.2, mem=9216.0, pid=4200),
        claude.model_copy(
            update={"session": session("claude:1a2b3c4d", last_tool="Bash"), "cost": 1.25}
        ),
        codex.model_copy(
            update={
                "session": session(
                    "codex:77aa88bb",
                    family="codex",
                    session_id="77aa88bb-0000-4000-8000-000000000001",
                    models=("gpt-5-codex",),
                    state="idle",
                    tokens=SessionTokens(input=2_400_000, output=61_000, cache_read=8_900_000),
                    cost_today=None,
                    cost_month=None,
                    unpriced=14,
                    rate_limits=codex_windows(),
                ),
                "unpriced": 14,
            }
        ),
        gone.model_copy(
            update={
                "session": session(
                    "claude:9f8e7d6c",
                    session_id="9f8e7d6c-1111-4222-8333-444455556666",
                    models=("claude-opus-4-1-20250805", "claude-sonnet-4-5-20250929"),
                    state="quiet",
                    cost_today=0.4,
                    cost_month=3.1,
                    cwd="/home/dev/old",
                ),
                "cost": 0.4,
            }
        ),
    ]


def sessions_snapshot(
    seq: int = 1, agents: Sequence[AgentSample] | None = None, status: SessionsStatus | None = None
) -> Snapshot:
    snap = snapshot(seq, session_fleet() if agents is None else agents)
    return snap.model_copy(update={"sessions": status})
