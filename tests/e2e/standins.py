"""What the e2e tests of real agents share: a stand-in `claude` process, and the environment
the installed `tui-monitor` runs with in tmux."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def claude_process(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A process named `claude` in `tmp_path/project`, as the real one is (an interpreter
    running a script by its #! line), until the block ends: (the project, its pid)."""
    project = tmp_path / "project"
    project.mkdir()
    stand_in = tmp_path / "bin" / "claude"
    stand_in.parent.mkdir()
    stand_in.write_text(f"#!{sys.executable}\nimport time\nwhile True:\n    time.sleep(60)\n")
    stand_in.chmod(0o755)
    agent = subprocess.Popen([str(stand_in)], cwd=project, start_new_session=True)
    try:
        yield project, agent.pid
    finally:
        os.killpg(agent.pid, signal.SIGKILL)
        agent.wait()


def monitor_env(config: Path) -> dict[str, str]:
    """The test's own dirs (XDG, the agents' homes) and `config` for the program in tmux."""
    env = {k: v for k, v in os.environ.items() if k.startswith(("XDG_", "TUI_MONITOR_"))}
    return env | {
        "TERM": "xterm-256color",
        "TUI_MONITOR_CONFIG": str(config),
        "CLAUDE_CONFIG_DIR": os.environ["CLAUDE_CONFIG_DIR"],
        "CODEX_HOME": os.environ["CODEX_HOME"],
        "GEMINI_CLI_HOME": os.environ["GEMINI_CLI_HOME"],
    }
