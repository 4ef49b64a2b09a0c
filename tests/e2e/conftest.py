"""The `tmux` fixture of the e2e tests (the driver is tmux_pane.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tmux_pane import Tmux


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    term = Tmux(tmp_path)
    try:
        yield term
    finally:
        term.close()
