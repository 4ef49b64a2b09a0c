"""Settings: a TOML file at the platformdirs config path, overridden by TUI_MONITOR_* env.

Nothing is read or created at import time; `load_settings` does the reading and turns every
problem into a `ConfigError` whose message is one line naming the file, the key and the issue.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .alerts.rules import AlertSettings
from .cost.budgets import BudgetSettings
from .cost.prices import PriceTable
from .errors import ConfigError
from .fleet.settings import FleetSettings, HostConfig
from .listen import is_loopback, split_listen
from .metrics.settings import MetricsSettings

APP_NAME = "tui-monitor"
CONFIG_ENV = "TUI_MONITOR_CONFIG"
ENV_PREFIX = "TUI_MONITOR_"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
INTERVAL_MIN, INTERVAL_MAX = 0.2, 60.0
"""Seconds between ticks: the config's `interval` and `--interval` alike."""
DAY = 86_400.0
"""The longest wait, linger or timeout a setting may hold, in seconds."""
CENTURY_DAYS = 36_500.0
"""The longest retention: as good as for ever, and still a date (a bigger one overflowed)."""


def config_path() -> Path:
    """Where the config file lives: $TUI_MONITOR_CONFIG, else the platform config dir."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def data_dir() -> Path:
    """Where history and spool files live (not created here)."""
    return platformdirs.user_data_path(APP_NAME)


class AgentRule(BaseModel):
    """A `[[agents]]` entry: a name and at least one way to find its processes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """Shown in the table; unique. Several matching root processes become name, name#2, ..."""
    kind: str = "custom"
    """Free-form label shown in the kind column (e.g. coding, worker, inference)."""
    process: str | None = None
    """Exact process name (or the basename of argv[0])."""
    cmdline: str | None = None
    """Regular expression searched in the command line joined with spaces."""
    cwd: str | None = None
    """Working-directory prefix."""
    user: str | None = None
    """Only processes of this user (an extra condition, not a match on its own)."""
    pidfile: Path | None = None
    """A file holding the pid of the agent's root process."""
    heartbeat_timeout: float | None = Field(default=None, gt=0, le=DAY)
    """Seconds without a heartbeat before this agent is `stale` (default: [ingest])."""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError(
                "must be 1-64 characters of letters, digits, '_', '.', ':' or '-', "
                "starting with a letter or digit"
            )
        return v

    @field_validator("cmdline")
    @classmethod
    def _valid_regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return v

    @property
    def finds_processes(self) -> bool:
        return bool(self.process or self.cmdline or self.cwd or self.pidfile)

    @model_validator(mode="after")
    def _has_matcher(self) -> AgentRule:
        if not self.finds_processes and self.heartbeat_timeout is None:
            raise ValueError(
                "needs at least one of process, cmdline, cwd or pidfile "
                "(or heartbeat_timeout, for an agent that only reports in)"
            )
        return self


class PresetSettings(BaseModel):
    """Built-in rules for well-known agent programs (claude, codex, ollama, ...)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Match well-known agent programs without any configuration."""
    exclude: list[str] = Field(default_factory=list)
    """Preset names to switch off, e.g. ["ollama"]."""


class McpSettings(BaseModel):
    """MCP servers: the processes in an agent's tree that serve it tools (collect/mcp.py)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Look for MCP servers in agents' process trees (the MCP column, the agent screen)."""
    builtin: bool = True
    """Recognise them by the usual package and program names: `npx -y
    @modelcontextprotocol/server-*`, `uvx mcp-server-*`, `*-mcp`, `python -m mcp_server_*`,
    `docker run mcp/*`, a `<tool> mcp serve` subcommand, ..."""
    patterns: list[str] = Field(default_factory=list, max_length=64)
    """More MCP servers: regular expressions searched in the command line (joined with
    spaces), e.g. ["^node /srv/tools/(?P<name>[a-z]+)-tool[.]js"]; the group `name` (else the
    first group, else the program) names the server. Tried before the built-in names."""

    @field_validator("patterns")
    @classmethod
    def _valid_patterns(cls, v: list[str]) -> list[str]:
        for pattern in v:
            if not pattern or len(pattern) > 1000:
                raise ValueError(f"pattern {pattern[:40]!r}: must be 1-1000 characters")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"pattern {pattern!r}: invalid regular expression: {exc}"
                ) from None
        return v


class GpuSettings(BaseModel):
    """The NVML collector."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Read NVIDIA GPUs through NVML when the library and a driver are present."""
    timeout: float = Field(default=2.0, ge=0.1, le=30.0)
    """Seconds an NVML call may take before that GPU is reported as not responding."""


class RetentionSettings(BaseModel):
    """How long history is kept; older rows are pruned in small batches."""

    model_config = ConfigDict(extra="forbid")

    raw_hours: float = Field(default=48.0, gt=0, le=CENTURY_DAYS * 24)
    """Raw ticks (every sample of every agent)."""
    minute_days: float = Field(default=30.0, gt=0, le=CENTURY_DAYS)
    """Per-minute rollups (min/avg/max)."""
    hour_days: float = Field(default=365.0, gt=0, le=CENTURY_DAYS)
    """Per-hour rollups, usage records, and sessions (a session stays while any of its usage
    does)."""
    events_days: float = Field(default=30.0, gt=0, le=CENTURY_DAYS)
    """Events and resolved errors."""


class StoreSettings(BaseModel):
    """The SQLite history."""

    model_config = ConfigDict(extra="forbid")

    path: Path | None = None
    """The database file (default: history.db in the user data dir)."""
    flush_interval: float = Field(default=1.0, ge=0.05, le=60.0)
    """Seconds between commits: at most this much is lost if the machine dies."""
    flush_rows: int = Field(default=5000, ge=1, le=1_000_000)
    """Commit early once a batch holds this many agent samples."""
    queue_size: int = Field(default=600, ge=1, le=86_400)
    """Snapshots waiting for the writer before the sampler has to wait for it."""
    prune_every: float = Field(default=600.0, ge=1.0, le=DAY)
    """Seconds between retention passes while recording."""
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    def db_path(self) -> Path:
        return self.path.expanduser() if self.path else data_dir() / "history.db"


class IngestSettings(BaseModel):
    """How agents report in: the Unix socket and JSONL spool files."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Listen on the ingest socket while recording (the UI's own recorder included)."""
    socket: Path | None = None
    """The socket path (default: $XDG_RUNTIME_DIR/tui-monitor/ingest.sock)."""
    max_connections: int = Field(default=64, ge=1, le=4096)
    """Agents connected at once; more are refused with a reason."""
    idle_timeout: float = Field(default=600.0, ge=1.0, le=DAY)
    """Seconds a connection may stay silent before it is closed."""
    pending: int = Field(default=30_000, ge=100, le=1_000_000)
    """Records (events, errors, usage) waiting for the next tick before senders must wait.
    It caps a flood at about this many per tick (30,000/s at 1 s), and the memory it takes
    (~0.4 KB a record, here and again in the writer's queue)."""
    heartbeat_timeout: float = Field(default=30.0, gt=0, le=DAY)
    """An agent that sent heartbeats and then none for this long is `stale`."""
    spool_dir: Path | None = None
    """JSONL files dropped here are tailed (default: spool/ in the user data dir)."""
    files: list[Path] = Field(default_factory=list)
    """More JSONL files to tail, wherever they are (each must be yours, not a symlink)."""

    def spool_path(self) -> Path:
        return self.spool_dir.expanduser() if self.spool_dir else data_dir() / "spool"

    def socket_path(self) -> Path:
        from .client import default_socket_path

        return self.socket.expanduser() if self.socket else default_socket_path()


class OtlpSettings(BaseModel):
    """The OTLP/HTTP receiver: Claude Code, Codex and Gemini CLI export their telemetry to
    it natively (otlp/). Every request needs the bearer token in `token_file`."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Listen for OTLP/HTTP (logs, metrics, traces) while recording."""
    listen: str = "127.0.0.1:4318"
    """host:port. A loopback address unless `allow_remote` is set."""
    allow_remote: bool = False
    """Accept a `listen` address other machines can reach (they still need the token)."""
    token_file: Path | None = None
    """The bearer token, made on first start, 0600 (default: otlp.token beside the ingest
    socket, in the runtime dir)."""
    hooks_token_file: Path | None = None
    """The bearer token of `POST /hooks/...` (the OTLP token is taken there too), made on
    first start, 0600 (default: hooks.token in the data dir). Kept apart from `token_file`,
    which lives in the runtime dir and is made anew after a reboot, because `tui-monitor
    integrate` writes it into agents' hook settings, which must go on working."""
    max_body: int = Field(default=4 * 2**20, ge=1024, le=256 * 2**20)
    """Bytes a request body may hold once decompressed; a larger one gets 413."""
    max_connections: int = Field(default=64, ge=1, le=4096)
    """Clients connected at once; more are closed at once."""
    idle_timeout: float = Field(default=60.0, ge=1.0, le=DAY)
    """Seconds a connection may wait between requests (or within one) before it is closed."""

    @field_validator("listen")
    @classmethod
    def _valid_listen(cls, v: str) -> str:
        split_listen(v)
        return v

    @model_validator(mode="after")
    def _loopback_unless_allowed(self) -> OtlpSettings:
        host, _ = split_listen(self.listen)
        if not self.allow_remote and not is_loopback(host):
            raise ValueError(
                f"listen {self.listen!r} is not a loopback address: set allow_remote = true "
                "to accept telemetry from other machines"
            )
        return self

    def address(self) -> tuple[str, int]:
        return split_listen(self.listen)

    def token_path(self, socket: Path) -> Path:
        return self.token_file.expanduser() if self.token_file else socket.parent / "otlp.token"

    def hooks_token_path(self) -> Path:
        return (
            self.hooks_token_file.expanduser()
            if self.hooks_token_file
            else data_dir() / "hooks.token"
        )


TASK_FOLDER_RE = re.compile(r"^[^/\\\x00]+(/[^/\\\x00]+)*$")


class TaskBoardSettings(BaseModel):
    """A `[[tasks]]` entry: a directory of YAML task files, one folder per state.

    The board only reads: it never writes, moves or locks a task file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """Shown as the board's title and used for events of tasks without an agent; unique."""
    root: Path
    """The directory holding the state folders (`~` is expanded)."""
    inbox: str = "inbox"
    """Folder (under root) of tasks nobody has taken yet."""
    assigned: str = "assigned"
    """Folder of tasks being worked on; a sub-folder names the agent."""
    done: str = "done"
    """Folder of finished tasks; a sub-folder names the agent."""
    archive: str | None = None
    """Folder of archived tasks (e.g. "archive", holding YYYY-MM/ folders); unset: none."""
    max_file_size: int = Field(default=262_144, ge=1024, le=16 * 2**20)
    """Bytes; a larger task file is shown as an error card, never read."""
    rescan: float = Field(default=60.0, ge=1.0, le=3600.0)
    """Seconds between full rescans, the safety net for filesystems without change events."""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError(
                "must be 1-64 characters of letters, digits, '_', '.', ':' or '-', "
                "starting with a letter or digit"
            )
        return v

    @field_validator("inbox", "assigned", "done", "archive")
    @classmethod
    def _relative_folder(cls, v: str | None) -> str | None:
        if v is not None and (not TASK_FOLDER_RE.match(v) or ".." in v.split("/")):
            raise ValueError("must be a folder name relative to root (no '..', no leading '/')")
        return v

    @model_validator(mode="after")
    def _distinct_folders(self) -> TaskBoardSettings:
        folders = list(self.folders().values())
        for i, a in enumerate(folders):
            for j, b in enumerate(folders):
                if i != j and (a == b or a.startswith(b + "/")):
                    raise ValueError(f"state folders overlap: {b!r} and {a!r}")
        return self

    def folders(self) -> dict[str, str]:
        """Column -> folder under root, in board order."""
        out = {"inbox": self.inbox, "assigned": self.assigned, "done": self.done}
        if self.archive is not None:
            out["archive"] = self.archive
        return out

    def root_path(self) -> Path:
        return self.root.expanduser()


class SessionsSettings(BaseModel):
    """Real agents' own session files: Claude Code transcripts, Codex rollouts, Gemini CLI
    chats, read for tokens, cost, models and state with no change to the agent (sessions/)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Read the session files of Claude Code (`~/.claude/projects`, `~/.config/claude/projects`
    or `CLAUDE_CONFIG_DIR`), Codex (`$CODEX_HOME/sessions`, default `~/.codex`) and Gemini CLI
    (`~/.gemini/tmp`)."""
    backfill_days: int | None = Field(default=None, ge=0, le=3660)
    """Days of past sessions imported when the recorder starts with no record of them; unset:
    since the first of last month. Imported usage stays in the history (Claude Code deletes
    transcripts after 30 days); reading a file again never counts it twice."""
    working_window: float = Field(default=10.0, gt=0.0, le=DAY)
    """A session that wrote a line within this many seconds is inferred to be working."""
    live_window: float = Field(default=300.0, gt=0.0, le=DAY)
    """Seconds an exact `working` (from a hook or an OTLP event) stands with nothing newer
    before the row falls back to what the files say: long enough for a long tool call or
    answer, short enough that a crashed agent stops showing `working`. `needs input`, `idle`
    and `error` hold until something newer says otherwise."""
    poll_every: float = Field(default=1.0, ge=0.1, le=60.0)
    """Seconds between looks at the session files once the backfill is done."""
    settle: float = Field(default=2.0, ge=0.0, le=600.0)
    """Seconds a response's usage waits for a later, larger copy of it before it is recorded
    (Claude Code writes a response as several lines as it streams; lines older than a minute
    are complete and wait only for the reader's next look)."""


SORT_KEYS = ("name", "kind", "status", "model", "pid", "cpu", "mem", "gpu", "procs", "mcp",
             "queue", "msgs", "errs", "tokens", "cost", "age", "tasks", "uptime")  # fmt: skip


class UiSettings(BaseModel):
    """The dashboard."""

    model_config = ConfigDict(extra="forbid")

    sort: Literal[SORT_KEYS] = "name"  # type: ignore[valid-type]
    """Initial sort column of the agent table. A live metric (cpu, mem) re-sorts, and so
    rewrites, the table every tick; name keeps it still."""
    sort_reverse: bool = False
    """Start with the sort reversed (largest first)."""
    read_only: bool = False
    """Turn actions off: `t` (go to the agent's tmux pane) and `K` (signal its process tree)
    say "read-only" instead (the dashboard's --read-only does the same)."""


class _Named(Protocol):
    name: str


_N = TypeVar("_N", bound=_Named)


def _unique(entries: list[_N], what: str) -> list[_N]:
    """`entries` when no two share a name; else the one-line error naming the first twin."""
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            raise ValueError(f"{what} {entry.name!r} is defined twice")
        seen.add(entry.name)
    return entries


class FileSettings(BaseModel):
    """Everything the TOML file may hold (env can override each of it)."""

    model_config = ConfigDict(extra="forbid")

    interval: float = Field(default=1.0, ge=INTERVAL_MIN, le=INTERVAL_MAX)
    """Seconds between ticks."""
    exited_linger: float = Field(default=300.0, ge=0.0, le=DAY)
    """Seconds an exited agent that no config rule names stays in the table."""
    restart_window: float = Field(default=120.0, ge=0.0, le=DAY)
    """An agent that starts within this many seconds of exiting has `restarted`."""
    idle_cpu: float = Field(default=1.0, ge=0.0, le=10_000.0)
    """Below this tree CPU% an agent is idle, not running."""
    presets: PresetSettings = Field(default_factory=PresetSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)
    sessions: SessionsSettings = Field(default_factory=SessionsSettings)
    gpu: GpuSettings = Field(default_factory=GpuSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    ui: UiSettings = Field(default_factory=UiSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    otlp: OtlpSettings = Field(default_factory=OtlpSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    prices: PriceTable = Field(default_factory=PriceTable)
    """USD per million tokens by model name or glob, for usage reported without cost_usd; they
    override the built-in table."""
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    keymap: dict[str, str] = Field(default_factory=dict)
    """Binding id -> keys, e.g. {"dashboard.filter" = "f", "app.quit" = "q,ctrl+q"}."""
    agents: list[AgentRule] = Field(default_factory=list)
    tasks: list[TaskBoardSettings] = Field(default_factory=list)
    """Task boards: directories of YAML task files shown live (the Tasks screen, `T`)."""
    fleet: FleetSettings = Field(default_factory=FleetSettings)
    hosts: list[HostConfig] = Field(default_factory=list, max_length=256)
    """Other machines whose recorders the dashboard shows beside this one (fleet/)."""

    @field_validator("hosts")
    @classmethod
    def _unique_hosts(cls, v: list[HostConfig]) -> list[HostConfig]:
        return _unique(v, "host name")

    @field_validator("tasks")
    @classmethod
    def _unique_boards(cls, v: list[TaskBoardSettings]) -> list[TaskBoardSettings]:
        return _unique(v, "task board name")

    @field_validator("agents")
    @classmethod
    def _unique_names(cls, v: list[AgentRule]) -> list[AgentRule]:
        return _unique(v, "agent name")


class Settings(FileSettings):
    """The effective settings: file values with TUI_MONITOR_* environment overrides on top."""


def _env_overrides() -> bool:
    """Whether a TUI_MONITOR_* variable names a setting (TUI_MONITOR_CONFIG, _SOCKET, ... do
    not). Case-insensitive, as pydantic-settings reads them."""
    names = (key.upper() for key in os.environ)
    return any(
        name.startswith(ENV_PREFIX)
        and name[len(ENV_PREFIX) :].split("__")[0].lower() in FileSettings.model_fields
        for name in names
    )


@functools.cache
def _env_settings() -> type[Settings]:
    """Settings that read the environment over their init values. pydantic-settings costs
    ~50 ms to import, a tenth of the time to the first screen, so only a start with an
    override pays it."""
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

    class EnvSettings(Settings, BaseSettings):
        model_config = SettingsConfigDict(
            env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid"
        )

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            # File values arrive as init kwargs; the environment wins over them.
            return (env_settings, init_settings)

    return EnvSettings


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ""
    for part in err["loc"]:
        loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    extra = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{loc or 'file'}: {msg}{extra}"


def read_file(path: Path, *, must_exist: bool = False) -> dict[str, Any]:
    """The raw TOML table, or {} when the file does not exist (unless it `must_exist`).
    Opened without blocking and checked to be a regular file before a byte is read: a FIFO
    would wait for a writer for ever, a device could be read for ever."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        if must_exist:
            raise ConfigError(
                f"{path}: no such file (`tui-monitor --config {path} config init` writes one)"
            ) from None
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(f"{path}: not a regular file")
        with open(fd, "rb", closefd=False) as f:
            raw = f.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def load_settings(path: Path | None = None, *, must_exist: bool = False) -> Settings:
    """Read the config file (if any; with `must_exist`, as `--config` names it, it must be
    there) and the environment into Settings."""
    path = path or config_path()
    data = read_file(path, must_exist=must_exist)
    try:
        FileSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc)}") from None
    if not _env_overrides():
        return Settings.model_validate(data)
    try:
        return _env_settings()(**data)
    except ValidationError as exc:
        raise ConfigError(f"environment (TUI_MONITOR_*): {_describe(exc)}") from None
