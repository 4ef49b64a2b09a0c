"""What a screen may ask of the app: the `Monitor` protocol.

Screens reach the app through this protocol instead of importing `app.py` (which imports the
screens to push them): the UI's modules form no cycle, and what screens depend on is written
down in one place. `MonitorApp` implements it; mypy checks that in app.py.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, cast

if TYPE_CHECKING:
    from textual.app import App

    from ..config import Settings
    from ..models import AgentEvent, Snapshot, TaskBoard
    from ..source import SnapshotSource
    from ..store.queries import History
    from .columns import AgentStats
    from .view import Trend

Step = Literal["at", "prev", "next", "first_after"]
ChartData = tuple[str, list[float], dict[str, list[float | None]], str, float | None]
"""Title, x values, one y series per name, unit, and the y maximum (None: scale to data)."""


class Monitor(Protocol):
    """The app's state and actions that screens read and call."""

    settings: Settings
    source: SnapshotSource
    history: History | None
    problem: str | None
    config_path: Path
    utc: bool
    """Times in UTC (tests, servers) rather than local time."""
    away: bool
    """Suspended for another host's dashboard (ui/remote.py): no bell, no writes."""

    @property
    def snapshot(self) -> Snapshot | None: ...

    @property
    def events(self) -> deque[tuple[int, AgentEvent]]: ...

    @property
    def stats(self) -> dict[str, AgentStats]: ...

    @property
    def alerts(self) -> dict[tuple[str, str], AgentEvent]: ...

    @property
    def replaying(self) -> bool: ...

    @property
    def tasks(self) -> tuple[TaskBoard, ...]: ...

    @property
    def replay_tick(self) -> int | None: ...

    def open_tasks(self, agent: str | None = None) -> None: ...

    def trend(self, what: str) -> Trend: ...

    def clock(self, snap: Snapshot) -> str: ...

    def chart_data(self, agent: str | None, metric: str) -> ChartData: ...

    def open_agent(self, name: str) -> None: ...

    def open_remote(self, key: str) -> None: ...

    def go_live(self) -> None: ...

    def replay_label(self) -> str: ...

    async def replay_at(self, ts: float, how: Step = "at") -> bool: ...

    async def replay_step(self, step: int) -> None: ...

    async def replay_jump(self, seconds: float) -> None: ...

    async def replay_problem(self) -> None: ...


def monitor_of(app: App[None]) -> Monitor:
    """The running app as a `Monitor` (it is a MonitorApp; app.py checks that it conforms)."""
    return cast("Monitor", app)
