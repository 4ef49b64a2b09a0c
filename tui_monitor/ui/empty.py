"""Empty states in words: why the table or a chart has nothing to show, and what to do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.text import Text

from .. import safe
from ..models import Snapshot
from .columns import filter_problem, reports_only
from .fleet import agent_key, key_label

METRIC_WORDS = {"cpu": "CPU", "mem": "memory", "gpu": "GPU"}


def no_agents(config: Path) -> Text:
    """Nothing monitored yet: the demo, the known programs, the config file to edit."""
    return Text.assemble(
        ("No agents yet. ", "bold"),
        "Try ",
        ("tui-monitor demo", "bold"),
        ", start a known agent program\n(claude, codex, aider, gemini, opencode, goose, "
        "ollama, vllm, llama-server, ...),\nor define one in ",
        safe.text(str(config), "bold"),
        ":\n",
        ('  [[agents]]\n  name = "planner"\n  cmdline = "python .* -m planner"', "cyan"),
    )


def no_match(query: str, hidden: int) -> Text:
    """A filter that hides every agent: which, how many, how to clear it, and whether the
    query was a regex at all."""
    why = Text.assemble(
        ("No agent matches ", "bold"),
        safe.text(query.strip(), "bold cyan", limit=200),
        f" ({hidden} hidden). ",
        ("esc", "bold"),
        " clears the filter.",
    )
    problem = filter_problem(query)
    if problem:
        why.append(f"\n{problem}", "yellow")
    return why


def nothing_to_chart(
    snap: Snapshot | None,
    subject: str | None,
    metric: str,
    lines: Mapping[str, Sequence[float | None]],
) -> Text | None:
    """Why the dashboard chart of `metric` for `subject` (None: the host) would be empty;
    None when there is something to draw."""
    if snap is None or any(v is not None for values in lines.values() for v in values):
        return None
    if metric == "gpu" and not snap.gpu.available and subject is None:
        why = Text("No GPU to chart: ", "bold")
        return why.append_text(safe.text(snap.gpu.reason or "none found"))
    agent = next((a for a in snap.agents if agent_key(a) == subject), None)
    if subject is not None and agent is not None and reports_only(agent):
        why = Text(key_label(subject, 128), "bold")
        why.append(" has no process of its own (it only reports): no CPU, memory or GPU ")
        return why.append("figures to chart. c charts the host; m the next metric.")
    who = "the host" if subject is None else key_label(subject, 128)
    hint = " (m: next metric)" if metric == "gpu" else ""
    return Text(f"No {METRIC_WORDS[metric]} figures for {who} in the last 10 minutes{hint}.")
