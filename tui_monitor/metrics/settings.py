"""`[metrics]`: the Prometheus endpoint of the recorder (off until `listen` is set)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..listen import is_loopback, split_listen


class MetricsSettings(BaseModel):
    """Where `/metrics` listens and how many series it may grow to. Every scrape needs the
    bearer token in `token_file` (Prometheus: `authorization: credentials_file:`)."""

    model_config = ConfigDict(extra="forbid")

    listen: str | None = None
    """host:port, e.g. "127.0.0.1:9464"; unset (the default): no endpoint. A loopback
    address unless `allow_remote` is set (`record --metrics ADDR` sets it for one run)."""
    allow_remote: bool = False
    """Accept a `listen` address other machines can reach (they still need the token)."""
    token_file: Path | None = None
    """The bearer token, made on first start, 0600 (default: metrics.token in the data dir,
    so it survives reboots and Prometheus's `credentials_file` can keep pointing at it)."""
    fold_instances: bool = True
    """Export the instances `name#2`, `name#3`, ... of an agent as one `agent="name"`, their
    figures summed: instance numbers come and go, each would be a new series."""
    max_agents: int = Field(default=200, ge=1, le=10_000)
    """Agent label values at most; agents past it are summed into `agent="(other)"` and
    counted by `tui_monitor_agents_folded`."""
    max_models: int = Field(default=50, ge=1, le=1000)
    """Model label values at most (tokens and cost); more are summed into `model="(other)"`."""
    max_connections: int = Field(default=8, ge=1, le=256)
    """Scrapers connected at once; more are closed at once."""
    idle_timeout: float = Field(default=30.0, ge=1.0, le=3600.0)
    """Seconds a connection may wait between requests (or within one) before it is closed."""

    @field_validator("listen")
    @classmethod
    def _valid_listen(cls, v: str | None) -> str | None:
        if v is not None:
            split_listen(v)
        return v

    @model_validator(mode="after")
    def _loopback_unless_allowed(self) -> MetricsSettings:
        if self.listen is None:
            return self
        host, _ = split_listen(self.listen)
        if not self.allow_remote and not is_loopback(host):
            raise ValueError(
                f"listen {self.listen!r} is not a loopback address: set allow_remote = true "
                "to let other machines scrape it"
            )
        return self

    def address(self) -> tuple[str, int] | None:
        return split_listen(self.listen) if self.listen is not None else None

    def token_path(self, data_dir: Path) -> Path:
        return self.token_file.expanduser() if self.token_file else data_dir / "metrics.token"
