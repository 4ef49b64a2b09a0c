"""`record --metrics ADDR`: /metrics for one run, checked as `[metrics] listen` is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..config import Settings


def metrics_option(fn: Any) -> Any:
    return click.option(
        "--metrics",
        "metrics",
        metavar="HOST:PORT",
        help="Serve Prometheus /metrics here for this run (as [metrics] listen; loopback "
        "unless [metrics] allow_remote).",
    )(fn)


def with_metrics(settings: Settings, listen: str | None) -> Settings:
    """`settings` with `[metrics] listen` set to `listen` (when given), validated; a bad
    address is one line and exit 2, like every other bad option."""
    if listen is None:
        return settings
    from pydantic import ValidationError

    from ..metrics.settings import MetricsSettings

    try:
        cfg = MetricsSettings.model_validate({**settings.metrics.model_dump(), "listen": listen})
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise click.BadParameter(reason, param_hint="--metrics") from None
    return settings.model_copy(update={"metrics": cfg})
