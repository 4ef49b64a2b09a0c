"""The core runs without the screen: nothing outside tui_monitor.ui imports textual.

The modules are found by walking the package, not from a list someone has to keep: a new
module of the core is checked the day it is added.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import tui_monitor

SCREEN = ("tui_monitor.ui", "tui_monitor.cli")
"""What may import textual: the UI, and the entry points that start it (only when they do)."""


def modules() -> list[str]:
    found = pkgutil.walk_packages(tui_monitor.__path__, prefix="tui_monitor.")
    return sorted(m.name for m in found if not m.name.endswith(".__main__"))


def core_modules() -> list[str]:
    return [m for m in modules() if not any(m == s or m.startswith(s + ".") for s in SCREEN)]


def test_the_walk_finds_the_core() -> None:
    """A walk that found nothing would pass the check below for nothing."""
    core = core_modules()
    for expected in ("tui_monitor.client", "tui_monitor.cost.ledger", "tui_monitor.store.writer"):
        assert expected in core
    assert not [m for m in core if m.startswith("tui_monitor.ui")]


def test_core_modules_and_the_cli_do_not_import_textual() -> None:
    """Every core module, and the command group (which imports the UI only to start it)."""
    checked = [*core_modules(), "tui_monitor.cli.commands"]
    code = (
        "import importlib, sys\n"
        f"for m in {checked!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""


def test_the_import_contract_names_every_part_of_the_core() -> None:
    """`make lint`'s forbidden-import contract lists the core's top-level parts: a new one
    must be added there too, or textual could creep into it unseen."""
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    contracts = tomllib.loads(pyproject.read_text())["tool"]["importlinter"]["contracts"]
    [core] = [c for c in contracts if "tui_monitor.ui" in c.get("forbidden_modules", [])
              and "textual" in c["forbidden_modules"]]  # fmt: skip
    top = {".".join(m.split(".")[:2]) for m in core_modules()} - {"tui_monitor"}
    assert set(core["source_modules"]) == top
