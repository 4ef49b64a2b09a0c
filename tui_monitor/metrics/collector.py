"""The metric families of one scrape, built from the recorder's newest snapshot and its
own counters, with `prometheus_client`'s families (names, types and escaping are its).

Names follow Prometheus's conventions: `tui_monitor_` first, base units last (`_bytes`,
`_seconds`, `_ratio` for 0-1 fractions, `_celsius`, `_watts`, `_usd`), `_total` on counters
(the client adds it). docs/metrics.md lists every one; a test checks that list against this.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..models import GpuSample, Snapshot
from .agents import STATES, STATUSES, Fleet
from .health import Health, health_families
from .labels import label
from .tally import LEVELS, Tally

P = "tui_monitor_"


@dataclass(frozen=True)
class View:
    """Everything one scrape reads, taken together so it is consistent."""

    snap: Snapshot
    fleet: Fleet
    tally: Tally
    health: Health


def gauge(name: str, doc: str, value: float | None) -> Iterator[Metric]:
    """An unlabelled gauge, absent while its value is unknown (never a made-up 0)."""
    if value is not None:
        yield GaugeMetricFamily(P + name, doc, value=value)


def _pct(value: float | None) -> float | None:
    return None if value is None else value / 100.0


def host_families(snap: Snapshot) -> Iterator[Metric]:
    h = snap.host
    yield from gauge("host_cpu_ratio", "CPU busy over all cores, 0-1.", _pct(h.cpu_utilization))
    yield from gauge("host_cpus", "Logical CPUs.", h.cpu_count)
    yield from gauge("host_load1", "Load average over 1 minute.", h.load_1)
    yield from gauge("host_load5", "Load average over 5 minutes.", h.load_5)
    yield from gauge("host_load15", "Load average over 15 minutes.", h.load_15)
    yield from gauge("host_memory_used_bytes", "RAM in use.", h.ram_used)
    yield from gauge("host_memory_total_bytes", "RAM installed.", h.ram_total)
    yield from gauge("host_memory_available_bytes", "RAM available.", h.ram_available)
    yield from gauge("host_swap_used_bytes", "Swap in use.", h.swap_used)
    yield from gauge("host_swap_total_bytes", "Swap configured.", h.swap_total)
    for name, doc, value in (
        ("host_disk_read", "Disk reads", h.disk_read_bps),
        ("host_disk_write", "Disk writes", h.disk_write_bps),
        ("host_network_receive", "Network received", h.net_rx_bps),
        ("host_network_transmit", "Network sent", h.net_tx_bps),
    ):
        yield from gauge(f"{name}_bytes_per_second", f"{doc}, over the last tick.", value)
    yield from gauge("host_boot_time_seconds", "When the machine booted (epoch).", h.boot_time)


GPU_GAUGES: tuple[tuple[str, str, str, float], ...] = (
    ("gpu_utilization_ratio", "GPU busy, 0-1.", "gpu_utilization", 0.01),
    ("gpu_memory_utilization_ratio", "GPU memory controller busy, 0-1.",
     "memory_utilization", 0.01),
    ("gpu_memory_used_bytes", "GPU memory in use.", "gpu_memory_used", 1.0),
    ("gpu_memory_total_bytes", "GPU memory installed.", "gpu_memory_total", 1.0),
    ("gpu_temperature_celsius", "GPU temperature.", "gpu_temperature", 1.0),
    ("gpu_power_watts", "GPU power draw.", "power_w", 1.0),
    ("gpu_power_limit_watts", "GPU power limit.", "power_limit_w", 1.0),
)  # fmt: skip


def gpu_families(snap: Snapshot) -> Iterator[Metric]:
    g = snap.gpu
    yield GaugeMetricFamily(P + "gpu_available", "1 when NVML answers, else 0.",
                            value=1.0 if g.available else 0.0)  # fmt: skip
    info = GaugeMetricFamily(P + "gpu_info", "Each GPU's model name (value 1).",
                             labels=["gpu", "name"])  # fmt: skip
    families = {n: GaugeMetricFamily(P + n, doc, labels=["gpu"]) for n, doc, _, _ in GPU_GAUGES}
    gpus: tuple[GpuSample, ...] = g.gpus if g.available else ()
    for gpu in gpus:
        index = str(gpu.index)
        info.add_metric([index, label(gpu.name or "")], 1.0)
        for name, _, attr, scale in GPU_GAUGES:
            value = getattr(gpu, attr)
            if value is not None:
                families[name].add_metric([index], value * scale)
    yield info
    yield from families.values()


def agent_families(fleet: Fleet) -> Iterator[Metric]:
    def family(name: str, doc: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
        return GaugeMetricFamily(P + name, doc, labels=["agent", *labels])

    cpu = family("agent_cpu_ratio", "CPU of the agent's process trees; 1.0 is one core.")
    memory = family("agent_memory_bytes", "Memory the trees hold: kind pss (shared pages "
                    "split) or rss (where PSS is unreadable).", ("kind",))  # fmt: skip
    gpu_memory = family("agent_gpu_memory_bytes", "GPU memory of the trees' processes.")
    procs = family("agent_processes", "Processes in the trees.")
    threads = family("agent_threads", "Threads in the trees.")
    instances = family("agent_instances", "Rows folded into this label (name#N, or past "
                       "max_agents into (other)).")  # fmt: skip
    errors = family("agent_open_errors", "Errors it reported that nobody resolved yet.")
    cost = family("agent_cost_today_usd", "USD it spent today (local time).")
    status = family("agent_status", "1 for its status, 0 for the others (folded: the most "
                    "active instance's).", ("status",))  # fmt: skip
    state = family("agent_state", "1 for its live state (real agents: hooks, OTLP or its "
                   "files), 0 for the others.", ("state",))  # fmt: skip
    for name, f in sorted(fleet.agents.items()):
        if f.cpu is not None:
            cpu.add_metric([name], f.cpu / 100.0)
        for kind, value in sorted(f.memory.items()):
            memory.add_metric([name, kind], value)
        if f.gpu_memory is not None:
            gpu_memory.add_metric([name], f.gpu_memory)
        procs.add_metric([name], f.procs)
        if f.threads is not None:
            threads.add_metric([name], f.threads)
        instances.add_metric([name], f.instances)
        errors.add_metric([name], f.errors)
        if f.cost_today is not None:
            cost.add_metric([name], f.cost_today)
        for s in STATUSES:
            status.add_metric([name, s], 1.0 if f.status == s else 0.0)
        if f.state is not None:
            for s in STATES:
                state.add_metric([name, s], 1.0 if f.state == s else 0.0)
    yield from (cpu, memory, gpu_memory, procs, threads, instances, errors, cost, status, state)
    rows = GaugeMetricFamily(P + "agents", "Agent rows in each status.", labels=["status"])
    for s in STATUSES:
        rows.add_metric([s], fleet.by_status[s])
    yield rows
    live = GaugeMetricFamily(P + "agents_in_state", "Real agents in each live state.",
                             labels=["state"])  # fmt: skip
    for s in STATES:
        live.add_metric([s], fleet.by_state[s])
    yield live
    yield GaugeMetricFamily(P + "agents_folded", "Agent names past max_agents, summed into "
                            'agent="(other)".', value=fleet.folded)  # fmt: skip
    yield GaugeMetricFamily(P + "open_errors", "Errors nobody resolved yet, all agents.",
                            value=sum(f.errors for f in fleet.agents.values()))  # fmt: skip


def money_families(snap: Snapshot, t: Tally) -> Iterator[Metric]:
    def counter(name: str, doc: str, labels: list[str]) -> CounterMetricFamily:
        return CounterMetricFamily(P + name, doc, labels=labels)

    tokens = counter("tokens", "Tokens used since the recorder started, by model and "
                     "type (input excludes cache reads).", ["model", "type"])  # fmt: skip
    for (model, kind), n in sorted(t.tokens.items()):
        tokens.add_metric([model, kind], n)
    cost = counter("cost_usd", "USD of priced usage since the recorder started.", ["model"])
    requests = counter("requests", "Usage records (model requests) since the recorder "
                       "started.", ["model"])  # fmt: skip
    unpriced = counter("unpriced_requests", "Usage records with no price (not in "
                       "cost_usd_total).", ["model"])  # fmt: skip
    for model in sorted(t.requests):
        cost.add_metric([model], t.cost[model])
        requests.add_metric([model], t.requests[model])
        unpriced.add_metric([model], t.unpriced[model])
    yield from (tokens, cost, requests, unpriced)
    events = counter("events", "Agent events since the recorder started, by level.", ["level"])
    for level in LEVELS:
        events.add_metric([level], t.events[level])
    yield events
    yield CounterMetricFamily(P + "errors_reported", "Errors agents reported since the "
                              "recorder started.", value=t.errors)  # fmt: skip
    if snap.cost is not None:
        yield from gauge("cost_today_usd", "USD spent today (local time), all agents.",
                         snap.cost.today)  # fmt: skip
        yield from gauge("cost_month_usd", "USD spent this month (local time), all agents.",
                         snap.cost.month)  # fmt: skip
        spent = GaugeMetricFamily(P + "budget_spent_ratio", "Each budget's spend over its "
                                  "limit (1 = used up).", labels=["budget"])  # fmt: skip
        for b in snap.cost.budgets:
            spent.add_metric([label(b.name)], b.pct / 100.0)
        yield spent


def families(view: View) -> Iterator[Metric]:
    """Every family of one scrape, in a stable order."""
    yield from agent_families(view.fleet)
    yield from money_families(view.snap, view.tally)
    yield from host_families(view.snap)
    yield from gpu_families(view.snap)
    yield from health_families(view.snap, view.health)


class SnapshotCollector(Collector):
    """Hands `prometheus_client` the families of the view it is given (a registry of its
    own holds only this collector: no process or platform metrics of the client's)."""

    def __init__(self) -> None:
        self.view: View | None = None

    def collect(self) -> Iterator[Metric]:
        view = self.view
        if view is not None:
            yield from families(view)
