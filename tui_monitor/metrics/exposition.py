"""The /metrics text of the newest tick: a subscriber of the sampler keeps the counters on
the loop; a scrape builds the text on a thread from a consistent view, once per tick."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, generate_latest

from ..models import Snapshot
from .agents import fleet
from .collector import SnapshotCollector, View
from .health import Health, RecorderView, health_of
from .labels import AgentSlots, ModelSlots
from .settings import MetricsSettings
from .tally import Tally


class Exposition:
    """Owns the registry, the counters and the label slots of one recorder.

    Args:
        settings: `[metrics]` (folding and caps).
        recorder: Read for the health figures at each scrape; None in benchmarks and tests.
        levels: Stored events' level codes -> names, for the events a flood brings as rows.
    """

    def __init__(self, settings: MetricsSettings, recorder: RecorderView | None = None,
                 levels: Mapping[int, str] | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.recorder = recorder
        self.tally = Tally(ModelSlots(settings.max_models), dict(levels or {}))
        self._slots = AgentSlots(settings.max_agents)
        self._collector = SnapshotCollector()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self._collector)
        self.snap: Snapshot | None = None
        self._lock = threading.Lock()
        """One scrape builds at a time (the agent slots are stateful)."""
        self._taken: Tally | None = None

    def update(self, snap: Snapshot) -> None:
        """The sampler's subscriber: count this tick (on the loop, cheap)."""
        self.tally.add(snap)
        self._taken = None
        self.snap = snap

    def view(self) -> tuple[Snapshot, Tally, Health] | None:
        """What a scrape needs, taken on the loop so it is one tick's."""
        snap = self.snap
        if snap is None:
            return None
        if self._taken is None:
            self._taken = self.tally.copy()
        started = self.tally.started
        health = health_of(self.recorder, started) if self.recorder else Health(started)
        return snap, self._taken, health

    def render(self, taken: tuple[Snapshot, Tally, Health] | None) -> bytes:
        """The exposition text (safe on a thread; built anew each scrape, a few ms for a
        hundred agents: bench/metrics.py)."""
        if taken is None:
            return b""
        snap, tally, health = taken
        with self._lock:
            agents = fleet(snap.agents, self._slots, self.settings.fold_instances)
            self._collector.view = View(snap, agents, tally, health)
            text = generate_latest(self.registry)
            self._collector.view = None
            return text
