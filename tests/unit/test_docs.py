"""The docs say what the code does: docs/config.md is generated and current, and what the
README claims about commands, options, keys, config and links is checked against the code."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import click
import pytest
from textual.app import App
from textual.binding import Binding
from textual.keys import _character_to_key
from textual.widgets import DataTable

import tui_monitor.ui
from tui_monitor.cli.commands import cli
from tui_monitor.config import FileSettings
from tui_monitor.ui.keymap import check_keymap

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return _load("gen_config")


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


# -- docs/config.md ----------------------------------------------------------------------


def test_config_reference_is_current(gen: ModuleType) -> None:
    """Changing a setting without `python docs/gen_config.py` fails here."""
    current = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert current == gen.render(), "docs/config.md is stale: run python docs/gen_config.py"
    assert gen.main(["--check"]) == 0


def test_check_fails_on_a_stale_or_missing_file(
    gen: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "config.md"
    stale.write_text(gen.render().replace("Seconds between ticks.", "Seconds."))
    assert gen.main(["--check", "--output", str(stale)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is stale" in err
    assert gen.main(["--check", "--output", str(tmp_path / "absent.md")]) == 1
    assert gen.main(["--output", str(stale)]) == 0
    assert gen.main(["--check", "--output", str(stale)]) == 0


def _leaf_fields(model: type, path: str = "") -> Iterator[tuple[str, str]]:
    """(dotted TOML path, key) of every setting that is a value, not a table of its own."""
    from pydantic import BaseModel, RootModel

    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        key = info.alias or name
        inner = [info.annotation]
        found = None
        while inner:
            tp = inner.pop()
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                found = tp
                break
            inner.extend(getattr(tp, "__args__", ()))
        if found is not None and issubclass(found, RootModel):
            value = found.model_fields["root"].annotation.__args__[1]  # type: ignore[union-attr]
            yield from _leaf_fields(value, f"{path}{key}.")
        elif found is not None:
            yield from _leaf_fields(found, f"{path}{key}.")
        elif name != "keymap":
            yield f"{path}{key}", key


def test_every_setting_is_in_the_reference_with_a_description(gen: ModuleType) -> None:
    text = gen.render()
    rows = re.findall(r"^\| `([^`]+)` \| [^|]+ \| [^|]+ \| [^|]* \| (.*) \|$", text, re.MULTILINE)
    leaves = list(_leaf_fields(FileSettings))
    assert len(leaves) > 50
    keys = {key for key, _ in rows}
    for dotted, key in leaves:
        assert key in keys, f"{dotted} is missing from docs/config.md"
    undocumented = [key for key, desc in rows if not desc.strip()]
    assert not undocumented, f"settings without a docstring: {undocumented}"


def test_limits_and_defaults_come_from_the_fields(gen: ModuleType) -> None:
    text = gen.render()
    assert "| `interval` | float | `1.0` | ≥ 0.2, ≤ 60 | Seconds between ticks. |" in text
    assert "| `timeout` | float | `2.0` | ≥ 0.1, ≤ 30 |" in text
    assert "| `daily` | float | unset | > 0 |" in text
    assert "| `for` | float | `0.0` | ≥ 0, ≤ 86400 |" in text  # the TOML name, not `for_`
    assert "Environment: `TUI_MONITOR_STORE__RETENTION__<KEY>`." in text
    assert "TUI_MONITOR_GPU__TIMEOUT=1" in text


def _runtime_bindings() -> dict[str, list[Binding]]:
    """Class name -> its own bindings, for every class in tui_monitor.ui that has some."""
    out: dict[str, list[Binding]] = {}
    for info in pkgutil.walk_packages(tui_monitor.ui.__path__, "tui_monitor.ui."):
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and "BINDINGS" in cls.__dict__:
                out[name] = list(Binding.make_bindings(cls.__dict__["BINDINGS"]))
    return out


def test_keymap_ids_are_every_binding_id(gen: ModuleType) -> None:
    """The source scan finds exactly the ids the classes really bind, so none is missing."""
    runtime = {b.id for bs in _runtime_bindings().values() for b in bs if b.id}
    scanned = {b.id for b in gen.bindings()}
    assert scanned == runtime
    assert {"app.quit", "dashboard.filter", "replay.goto", "agent.resolve"} <= scanned
    text = gen.render()
    for binding_id in runtime:
        assert f"| `{binding_id}` |" in text


# -- README ------------------------------------------------------------------------------


def _code_spans(text: str) -> Iterator[str]:
    """Inline code and the lines of fenced blocks (shell prompts and comments dropped)."""
    fenced = re.compile(r"^ *```[^\n]*\n(.*?)^ *```", re.MULTILINE | re.DOTALL)
    for block in fenced.findall(text):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            yield re.split(r"\s+#\s", line)[0]
    yield from re.findall(r"`([^`\n]+)`", fenced.sub("", text))


def _commands(text: str) -> list[str]:
    return [s for s in _code_spans(text) if re.match(r"tui-monitor(\s|$)", s)]


def _resolve(words: list[str]) -> tuple[list[click.Command], list[str]]:
    """The command path the words name, and the option names among them."""
    path: list[click.Command] = [cli]
    options: list[str] = []
    for word in words:
        if word == "--":
            break  # what follows is another program's command line (`run -- codex --model`)
        word = word.strip("[]")
        if re.fullmatch(r"--?[A-Za-z][\w-]*", word):
            options.append(word)
            continue
        group = path[-1]
        if isinstance(group, click.Group) and re.fullmatch(r"[a-z][a-z|\\-]*", word):
            names = word.replace("\\", "").split("|")
            for name in names:
                assert name in group.commands, f"`{_name(path)} {name}`: no such command"
            path.append(group.commands[names[0]])
    return path, options


def _name(path: list[click.Command]) -> str:
    return " ".join(["tui-monitor", *(c.name or "" for c in path[1:])])


def test_readme_commands_and_options_exist(readme: str) -> None:
    commands = _commands(readme)
    assert len(commands) > 30
    seen: set[str] = set()
    for command in commands:
        path, options = _resolve(command.split()[1:])
        seen.add(" ".join(c.name or "" for c in path[1:]))
        known = {"-h", "--help"}
        for c in path:
            for p in c.params:
                known.update(p.opts, p.secondary_opts)
        for option in options:
            assert option in known, f"{command!r}: {option} is not an option of it"
    for name in ("demo", "record", "emit", "run", "status", "agents", "db info", "config path"):
        assert name in seen, f"the README never shows `tui-monitor {name}`"


def test_readme_command_check_can_fail() -> None:
    with pytest.raises(AssertionError, match="no such command"):
        _resolve(["dashboard"])
    with pytest.raises(AssertionError, match="no such command"):
        _resolve(["db", "vacuum"])
    assert _resolve(["emit", "--agent", "x", "--nope"])[1] == ["--agent", "--nope"]


def _key_tables(text: str) -> list[list[str]]:
    """The backticked keys in the first column of each `| key | ... |` table."""
    tables: list[list[str]] = []
    rows: list[str] | None = None
    for line in text.splitlines():
        if re.match(r"\|\s*key\s*\|", line):
            rows = []
            tables.append(rows)
        elif rows is not None and line.startswith("|"):
            if not line.startswith("|---"):
                rows.extend(re.findall(r"`([^`]+)`", line.split(" | ")[0]))
        else:
            rows = None
    return tables


ARROWS = {"↑": "up", "↓": "down", "←": "left", "→": "right"}


def _key(shown: str) -> str:
    return ARROWS.get(shown) or (_character_to_key(shown) if len(shown) == 1 else shown)


def test_readme_keys_are_bound(readme: str) -> None:
    """Each key table lists keys one screen really binds (with the app's and the table's)."""
    classes = _runtime_bindings()
    common = {b.key for b in classes["MonitorApp"]}
    screens = {
        name: {b.key for b in classes[name]} | common
        for name in ("DashboardScreen", "AgentScreen", "TasksScreen")
    }
    screens["DashboardScreen"] |= {b.key for b in Binding.make_bindings(DataTable.BINDINGS)}
    screens["DashboardScreen"].add(App.COMMAND_PALETTE_BINDING)
    tables = _key_tables(readme)
    assert len(tables) >= 2
    covered: set[str] = set()
    for keys in tables:
        wanted = {_key(k) for k in keys}
        fits = [name for name, bound in screens.items() if wanted <= bound]
        missing = {name: sorted(wanted - bound) for name, bound in screens.items()}
        assert fits, f"README key table has keys no screen binds: {missing}"
        covered |= wanted
    # ... and no key of the dashboard, the agent screen or the app goes unmentioned.
    for name in ("MonitorApp", "DashboardScreen", "AgentScreen", "TasksScreen"):
        unlisted = {b.key for b in classes[name]} - covered
        assert not unlisted, f"{name} binds keys the README's key tables omit: {unlisted}"


def test_readme_key_check_can_fail() -> None:
    assert _key(">") == "greater_than_sign"
    assert _key_tables("| key | x |\n|---|---|\n| `z` `[` | y |\n\ntext `q`\n") == [["z", "["]]


def _toml_blocks(text: str) -> list[str]:
    blocks = re.findall(r"^( *)```toml\n(.*?)^ *```", text, re.MULTILINE | re.DOTALL)
    return [textwrap.dedent(body) for _, body in blocks]


def test_readme_toml_is_valid_config(readme: str) -> None:
    """Every TOML example is a config file tui-monitor accepts as it is."""
    blocks = _toml_blocks(readme)
    assert len(blocks) >= 6
    for block in blocks:
        settings = FileSettings.model_validate(tomllib.loads(block))
        ids = {b.id for bs in _runtime_bindings().values() for b in bs if b.id}
        assert set(settings.keymap) <= ids, block
        check_keymap(settings.keymap, Path("README.md"))  # the dashboard would start on it


def test_readme_links_point_at_files_and_headings(readme: str) -> None:
    headings = {
        re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.*)$", readme, re.MULTILINE)
    }
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert links
    for link in links:
        target, _, anchor = link.partition("#")
        if target.startswith(("http://", "https://")):
            continue
        if target:
            assert (ROOT / target).exists(), f"README links to a missing file: {target}"
        elif anchor:
            assert anchor in headings, f"README links to a missing heading: #{anchor}"


def test_readme_shows_the_screenshot(readme: str) -> None:
    assert "![tui-monitor dashboard](docs/dashboard.svg)" in readme
    svg = (ROOT / "docs" / "dashboard.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg")
    for text in ("NAME", "vllm", "coder#1", "Events", "host&#160;CPU", "Cost"):
        assert text in svg, text
