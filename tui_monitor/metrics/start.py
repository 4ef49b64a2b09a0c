"""Starting /metrics beside the recorder (kept here: recorder.py is full).

This package imports neither the config nor what imports it (the config imports our
settings): the recorder hands in the token loader and the level names of stored events."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from ..models import Snapshot
from .exposition import Exposition
from .health import RecorderView
from .server import MetricsServer
from .settings import MetricsSettings

log = logging.getLogger(__name__)

Subscribe = Callable[[Callable[[Snapshot], None]], Callable[[], None]]


async def start_metrics(
    cfg: MetricsSettings,
    token: tuple[Path, Callable[[], str]],
    recorder: RecorderView,
    subscribe: Subscribe,
    levels: Mapping[int, str],
    say: Callable[[str], None] | None = None,
) -> tuple[MetricsServer, Callable[[], None]]:
    """The server, listening or off with its reason, and the function that unsubscribes it
    from the sampler.

    Args:
        cfg: `[metrics]`, with `listen` set.
        token: The token file and what reads (or first makes) it.
        recorder: Read for its health at each scrape.
        subscribe: The sampler's: every tick is counted.
        levels: Stored events' level codes -> names (store/schema.py).
        say: One line for the person running `record`: where it listens, or why not (else
            a failure is logged).
    """
    exposition = Exposition(cfg, recorder, levels)
    server = MetricsServer(cfg, token[0], token[1], exposition)
    await server.start()
    listening = server.listening or ""
    if listening.startswith("off: "):
        line = f"metrics off: {listening[5:]} (recording goes on)"
        say(line) if say is not None else log.error("%s", line)
        return server, lambda: None
    if say is not None:
        say(f"metrics on http://{listening}/metrics (bearer token in {token[0]})")
    return server, subscribe(exposition.update)
