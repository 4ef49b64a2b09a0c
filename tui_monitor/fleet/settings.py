"""`[fleet]` and `[[hosts]]`: which machines the dashboard shows beside this one, and how ssh
reaches them. The system `ssh` does the connecting, so `~/.ssh/config`, keys, agents and
jump hosts work as the person expects; we only add options that keep a monitor from hanging
(BatchMode, timeouts, keep-alives) and reuse one connection per host (ControlMaster)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

HOST_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_DESTINATION_RE = re.compile(r"^[A-Za-z0-9_.@:%\[\]-]{1,255}$")
_OPTION_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*=[^\x00-\x1f\x7f]{0,255}$")
CONTROL_PATH_MAX = 100
"""Bytes a Unix socket path may hold (108 on Linux, 104 on the BSDs), less a margin: ssh
refuses a longer ControlPath, so a longer one means no connection reuse instead."""


class FleetSettings(BaseModel):
    """`[fleet]`: how every host is reached."""

    model_config = ConfigDict(extra="forbid")

    ssh: str = "ssh"
    """The ssh program (a name on PATH or a path)."""
    connect_timeout: float = Field(default=10.0, ge=1.0, le=300.0)
    """Seconds ssh may take to connect, and the stream to send its handshake."""
    stale_after: float = Field(default=10.0, ge=1.0, le=3600.0)
    """Seconds without a snapshot from a connected host before it shows as stale."""
    backoff_max: float = Field(default=60.0, ge=1.0, le=3600.0)
    """The longest wait between two tries to reach a host (it doubles from 1 s)."""
    control_persist: int = Field(default=60, ge=0, le=86_400)
    """Seconds ssh keeps a host's shared connection open after its last use (ControlMaster,
    ControlPersist); 0: no connection reuse."""


class HostConfig(BaseModel):
    """A `[[hosts]]` entry (or `--host NAME`): one machine whose recorder we show."""

    model_config = ConfigDict(extra="forbid")

    name: str
    """Shown in the HOST column and the Hosts card."""
    ssh: str | None = None
    """The ssh destination (`gpu1`, `me@gpu1.lan`, an alias of ~/.ssh/config); default: name."""
    command: str = "tui-monitor"
    """The remote program: a name on the remote PATH of a non-interactive shell, or a path
    (`~/.local/bin/tui-monitor`)."""
    db: str | None = None
    """The remote history (`stream --db`); default: the remote user's own."""
    options: list[str] = Field(default_factory=list, max_length=32)
    """Extra ssh options as `Key=value` (each given as `-o Key=value`)."""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        if not HOST_NAME_RE.match(v):
            raise ValueError(
                f"host name {v!r} must be 1-64 letters, digits, '_', '.', ':' or '-' "
                "(starting with a letter or digit)"
            )
        return v

    @field_validator("ssh")
    @classmethod
    def _valid_destination(cls, v: str | None) -> str | None:
        # A destination starting with '-' would be read by ssh as an option.
        if v is not None and (v.startswith("-") or not _DESTINATION_RE.match(v)):
            raise ValueError(f"ssh destination {v!r} is not a host name, user@host or alias")
        return v

    @field_validator("command", "db")
    @classmethod
    def _one_line(cls, v: str | None) -> str | None:
        if v is not None and (not v or len(v) > 1024 or re.search(r"[\x00-\x1f\x7f]", v)):
            raise ValueError("must be one line of at most 1024 characters")
        return v

    @field_validator("options")
    @classmethod
    def _valid_options(cls, v: list[str]) -> list[str]:
        for option in v:
            if not _OPTION_RE.match(option):
                raise ValueError(f"ssh option {option!r} is not Key=value")
        return v

    @property
    def destination(self) -> str:
        return self.ssh or self.name

    def remote_command(self, *args: str) -> list[str]:
        """`command ARGS...` with `--db` when set (args: `stream`, or none for the dashboard)."""
        db = ["--db", self.db] if self.db else []
        return [self.command, *db, *args] if not args else [self.command, *args, *db]

    def ssh_argv(
        self, fleet: FleetSettings, control_dir: Path | None, remote: Sequence[str], *, tty: bool
    ) -> list[str]:
        """The ssh command line running `remote` there: `-T` and BatchMode for the stream
        (never a prompt nobody sees), `-t` without BatchMode for a person's own session (a
        passphrase or host-key prompt can be answered)."""
        argv = [fleet.ssh, "-t" if tty else "-T"]
        opts = [f"ConnectTimeout={max(1, round(fleet.connect_timeout))}"]
        if not tty:
            opts += ["BatchMode=yes", "ServerAliveInterval=5", "ServerAliveCountMax=3"]
        if control_dir is not None and fleet.control_persist > 0:
            path = f"{control_dir}/%C"
            if len(str(control_dir)) + 41 <= CONTROL_PATH_MAX:  # %C: 40 hex digits
                opts += [
                    "ControlMaster=auto",
                    f"ControlPath={path}",
                    f"ControlPersist={fleet.control_persist}",
                ]
        opts += self.options
        for opt in opts:
            argv += ["-o", opt]
        # The remote side runs a string through the user's shell: quote every word (but let
        # a leading `~/` of the program expand there).
        words = [shlex.quote(w) for w in remote]
        if remote and remote[0].startswith("~/") and len(remote[0]) > 2:
            words[0] = "~/" + shlex.quote(remote[0][2:])
        return [*argv, "--", self.destination, " ".join(words)]


def choose_hosts(configured: Sequence[HostConfig], names: Sequence[str]) -> list[HostConfig]:
    """The hosts a run shows: `--host NAME`s when given (a configured entry of that name, else
    NAME as its own ssh destination), else every `[[hosts]]` entry. ValueError names a bad
    NAME."""
    if not names:
        return list(configured)
    by_name = {h.name: h for h in configured}
    chosen: list[HostConfig] = []
    for name in dict.fromkeys(names):
        chosen.append(by_name.get(name) or HostConfig(name=name))
    return chosen
