"""A private OpenSSH server for tests: a free port on loopback, a throwaway host key, one
authorised client key, its own pid file and log; the fleet's e2e tests log into it as the
test's own user. `sshd(tmp)` starts it; `Sshd.client_options()` are the `[[hosts]] options`
that reach it without touching ~/.ssh; `stop()` kills it and every session it serves.

Needs Debian's `openssh-server` (`/usr/sbin/sshd`; the Makefile's TEST_TOOLS); tests skip
when it is absent.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.recorders import free_port

SSHD = shutil.which("sshd", path="/usr/sbin:/usr/local/sbin:/sbin:" + os.environ["PATH"])
SSH_KEYGEN = shutil.which("ssh-keygen")
START_TIMEOUT = 15.0


def skip_without_sshd() -> None:
    if SSHD is None or SSH_KEYGEN is None or shutil.which("ssh") is None:
        pytest.skip("needs OpenSSH (apt-get install openssh-server openssh-client)")


@dataclass
class Sshd:
    proc: subprocess.Popen[bytes]
    port: int
    dir: Path
    key: Path
    """The client's private key."""

    @property
    def user(self) -> str:
        return getpass.getuser()

    def client_options(self) -> list[str]:
        """ssh `-o` options (as `[[hosts]] options`) for this server only."""
        return [
            f"Port={self.port}",
            f"IdentityFile={self.key}",
            "IdentitiesOnly=yes",
            f"UserKnownHostsFile={self.dir / 'known_hosts'}",
            "StrictHostKeyChecking=no",  # a throwaway host key: trust on first use
            "GlobalKnownHostsFile=/dev/null",
            "LogLevel=ERROR",
        ]

    def log(self) -> str:
        return (self.dir / "sshd.log").read_text("utf-8", "replace")

    def stop(self) -> None:
        """SIGKILL the server and every connection and session it serves, as a machine that
        went away would (sshd leaves established sessions running when only the listener
        dies: they are in sessions of their own, so they are found by parentage)."""
        if self.proc.poll() is None:
            for pid in [*descendants(self.proc.pid), self.proc.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.wait(10)


def descendants(root: int) -> list[int]:
    """Every process below `root`, deepest last (from /proc's parent pids)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            data = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        ppid = int(data[data.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def control_masters(control: Path) -> list[int]:
    """The pids of ssh ControlMaster processes serving sockets in `control` (the viewer's
    shared connections: a machine that went away takes them down with it)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"ssh") and any(str(control).encode() in c for c in cmd):
            pids.append(int(entry))
    return pids


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def start_sshd(base: Path, set_env: dict[str, str] | None = None) -> Sshd:
    """sshd on a free loopback port; `set_env` is given to every session (sshd's SetEnv:
    the remote side's config and XDG dirs)."""
    skip_without_sshd()
    assert SSHD is not None and SSH_KEYGEN is not None
    d = base / "sshd"
    d.mkdir(mode=0o700)
    keygen = [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", ""]
    subprocess.run([*keygen, "-f", str(d / "host_key")], check=True)
    subprocess.run([*keygen, "-f", str(d / "client_key")], check=True)
    (d / "authorized_keys").write_bytes((d / "client_key.pub").read_bytes())
    (d / "authorized_keys").chmod(0o600)
    if os.getuid() == 0:  # privilege separation wants this directory when run as root
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    env_line = " ".join(f"{k}={v}" for k, v in (set_env or {}).items())
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {d / 'host_key'}\n"
        f"PidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\n"
        f"AllowUsers {getpass.getuser()}\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "PrintMotd no\n"
        "LogLevel VERBOSE\n" + (f"SetEnv {env_line}\n" if env_line else "")
    )
    log = (d / "sshd.log").open("wb")
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    server = Sshd(proc, port, d, d / "client_key")
    deadline = time.monotonic() + START_TIMEOUT
    while "Server listening" not in server.log():
        if proc.poll() is not None:
            pytest.fail(f"sshd exited {proc.returncode}:\n{server.log()}")
        if time.monotonic() > deadline:
            server.stop()
            pytest.fail(f"sshd not listening within {START_TIMEOUT}s:\n{server.log()}")
        time.sleep(0.05)
    return server
