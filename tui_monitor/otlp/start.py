"""Starting the receiver beside the recorder's socket (kept here: recorder.py is full)."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..config import Settings
from ..models import OtlpStatus
from ..sessions.book import SessionBook

if TYPE_CHECKING:
    from ..sessions.feed import SessionFeed
    from .receiver import OtlpReceiver


class Holder(Protocol):
    """What the receiver needs of the sampler (not imported: the sampler is above us)."""

    sessions: SessionFeed | None
    otlp_status: Callable[[], OtlpStatus] | None


async def start_otlp(settings: Settings, sampler: Holder) -> OtlpReceiver | None:
    """The receiver, listening (or off, with the reason, for the header); None when
    `[otlp] enabled = false`.

    With `[sessions] enabled = false` the records still need a book: the sampler gets a feed
    that reads no files, so OTLP sessions are rows and history all the same.
    """
    cfg = settings.otlp
    if not cfg.enabled:
        return None
    # the receiver and h11 (protobuf comes with the first OTLP request): not on the loop
    await asyncio.to_thread(importlib.import_module, "tui_monitor.otlp.receiver")
    from ..sessions.feed import SessionFeed as Feed
    from .receiver import OtlpReceiver as Receiver

    if not settings.sessions.enabled and sampler.sessions is None:
        feed = Feed(settings, tuple)
        feed.backfill = False
        sampler.sessions = feed

    def book() -> SessionBook | None:
        return sampler.sessions.book if sampler.sessions is not None else None

    socket = settings.ingest.socket_path()
    receiver = Receiver(cfg, cfg.token_path(socket), book, cfg.hooks_token_path())
    sampler.otlp_status = receiver.status
    await receiver.start()
    return receiver
