"""Generate docs/config.md, the configuration reference, from the code that defines it.

Keys, types, defaults and limits come from the pydantic models in tui_monitor/config.py (and
the models they nest); descriptions are the attribute docstrings under each field, read with
`ast` (pydantic's `use_attribute_docstrings` would slow the app's start-up); `[keymap]` ids
are every `Binding(..., id=...)` and `_bind(..., id)` in tui_monitor/ui.

    python docs/gen_config.py           # write docs/config.md
    python docs/gen_config.py --check   # exit 1 if docs/config.md is not what this writes
"""

from __future__ import annotations

import argparse
import ast
import functools
import inspect
import itertools
import json
import re
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel, RootModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "config.md"
UI_DIR = ROOT / "tui_monitor" / "ui"

# -- attribute docstrings ---------------------------------------------------------------


def _squash(text: str) -> str:
    """A docstring as one line for a table cell."""
    return " ".join(inspect.cleandoc(text).split())


@functools.cache
def _module_tree(module: str) -> ast.Module:
    return ast.parse(inspect.getsource(sys.modules[module]))


def _class_node(cls: type) -> ast.ClassDef | None:
    for node in _module_tree(cls.__module__).body:
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            return node
    return None


def attribute_docs(cls: type) -> dict[str, str]:
    """Field name -> the string literal right after its annotated assignment, over the MRO."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.split(".")[0] != "tui_monitor":
            continue
        node = _class_node(klass)
        if node is None:
            continue
        body = node.body
        for stmt, after in itertools.pairwise(body):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[stmt.target.id] = _squash(after.value.value)
    return docs


def class_doc(cls: type) -> str:
    doc = cls.__dict__.get("__doc__")
    return _squash(doc) if doc else ""


# -- types, limits, defaults ------------------------------------------------------------

_SCALARS: dict[Any, str] = {
    float: "float",
    int: "integer",
    bool: "boolean",
    str: "string",
    Path: "path",
}


def _strip_annotated(tp: Any) -> tuple[Any, list[Any]]:
    """(the bare type, the metadata of every `Annotated` layer around it)."""
    metadata: list[Any] = []
    while typing.get_origin(tp) is typing.Annotated:
        args = typing.get_args(tp)
        tp, metadata = args[0], metadata + list(args[1:])
    return tp, metadata


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _without_none(tp: Any) -> tuple[Any, bool]:
    """`X | None` -> (X, True); anything else -> (tp, False)."""
    if _is_union(tp):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) < len(typing.get_args(tp)):
            return (args[0] if len(args) == 1 else typing.Union[tuple(args)]), True  # noqa: UP007
    return tp, False


def _model_class(tp: Any) -> type[BaseModel] | None:
    tp, _ = _strip_annotated(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def type_name(tp: Any) -> str:
    """A type as a reader of a TOML file thinks of it."""
    tp, _ = _strip_annotated(_without_none(_strip_annotated(tp)[0])[0])
    if tp in _SCALARS:
        return _SCALARS[tp]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return "one of " + ", ".join(json.dumps(a) for a in args)
    if origin is list:
        return f"list of {type_name(args[0])}s"
    if origin is dict:
        return f"table: name → {type_name(args[1])}"
    if _is_union(tp):
        return " or ".join(type_name(a) for a in args)
    return getattr(tp, "__name__", str(tp))


_BOUNDS = (
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Lt, "lt", "<"),
    (annotated_types.Le, "le", "≤"),
    (annotated_types.MinLen, "min_length", "length ≥"),
    (annotated_types.MaxLen, "max_length", "length ≤"),
)


def _number(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def limits(info: FieldInfo) -> str:
    """The field's bounds (ge/le/gt/lt/lengths), wherever they sit in its annotation."""
    found: list[Any] = list(info.metadata)
    stack = [info.annotation]
    while stack:
        tp = stack.pop()
        bare, metadata = _strip_annotated(tp)
        for item in metadata:
            found.extend(item.metadata if isinstance(item, FieldInfo) else [item])
        stack.extend(typing.get_args(bare) if typing.get_origin(bare) is not dict else ())
        if typing.get_origin(bare) is dict:
            stack.append(typing.get_args(bare)[1])
    out: list[str] = []
    each = "each " if typing.get_origin(_without_none(info.annotation)[0]) is dict else ""
    for kind, attr, sign in _BOUNDS:
        for item in found:
            if isinstance(item, kind):
                text = f"{each}{sign} {_number(getattr(item, attr))}"
                if text not in out:
                    out.append(text)
    return ", ".join(out)


def default(info: FieldInfo) -> str:
    if info.default is PydanticUndefined and info.default_factory is None:
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str | int | float):
        return f"`{json.dumps(value)}`"
    if isinstance(value, list | dict | tuple):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


# -- key bindings ----------------------------------------------------------------------


@dataclass(frozen=True)
class BindingDoc:
    id: str
    keys: str
    where: str
    description: str


def _const(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _binding_of(call: ast.Call) -> tuple[str | None, str | None, str | None, str | None]:
    """(keys, description, id, tooltip) of a `Binding(...)` or `_bind(...)` call."""
    func = call.func
    name = (
        func.id
        if isinstance(func, ast.Name)
        else func.attr
        if isinstance(func, ast.Attribute)
        else ""
    )
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    args: list[ast.expr | None] = [*call.args, None, None, None, None]
    if name == "Binding":
        desc = _const(args[2]) or _const(kw.get("description"))
        return (
            _const(args[0] or kw.get("key")),
            desc,
            _const(kw.get("id")),
            _const(kw.get("tooltip")),
        )
    if name == "_bind":  # _bind(key, action, description, id_, show): tooltip = description
        desc = _const(args[2])
        return _const(args[0]), desc, _const(args[3] or kw.get("id_")), desc
    return None, None, None, None


def bindings(ui_dir: Path = UI_DIR) -> list[BindingDoc]:
    """Every binding with an id in tui_monitor/ui, in source order, with the class it is in."""
    out: list[BindingDoc] = []
    for path in sorted(ui_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            for node in ast.walk(cls):
                if not isinstance(node, ast.Call):
                    continue
                keys, desc, id_, tooltip = _binding_of(node)
                if keys and id_:
                    where = cls.name.removesuffix("Screen").removeprefix("Monitor") or cls.name
                    out.append(BindingDoc(id_, keys, where, tooltip or desc or ""))
    return out


def key_display(key: str) -> str:
    """`greater_than_sign` -> `>`; names such as enter, escape, ctrl+s stay as they are."""
    from textual.keys import format_key

    shown = format_key(key)
    return shown if len(shown) == 1 and shown.isascii() and shown.isprintable() else key


# -- the document ----------------------------------------------------------------------


@dataclass
class Section:
    title: str
    """`[gpu]`, `[[agents]]`, ... or "Top-level keys"."""
    env: str | None
    """The environment variable prefix of its keys, when they can be set that way."""
    model: type[BaseModel]
    intro: list[str]
    fields: list[tuple[str, FieldInfo, str]]
    """(TOML key, field, description)."""


def _is_dict_of_scalars(tp: Any) -> bool:
    bare, _ = _without_none(_strip_annotated(tp)[0])
    if typing.get_origin(bare) is not dict:
        return False
    return _model_class(typing.get_args(bare)[1]) is None


def _list_of_models(tp: Any) -> type[BaseModel] | None:
    bare, _ = _without_none(_strip_annotated(tp)[0])
    if typing.get_origin(bare) is list:
        return _model_class(typing.get_args(bare)[0])
    return None


def sections(
    model: type[BaseModel], path: str = "", env: str | None = "TUI_MONITOR_"
) -> Iterator[Section]:
    """The model's scalar keys as one section, then a section per nested table, depth first."""
    docs = attribute_docs(model)
    title = f"[{path}]" if path else "Top-level keys"
    intro = [class_doc(model)] if path else []
    own = Section(title, env, model, intro, [])
    nested: list[Iterator[Section]] = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        desc = docs.get(name, "")
        where = f"{path}.{key}" if path else key
        sub_env = f"{env}{key.upper()}__" if env else None
        sub = _model_class(_without_none(info.annotation)[0])
        rows = _list_of_models(info.annotation)
        if sub is not None and issubclass(sub, RootModel):
            nested.append(_root_sections(sub, where, desc, sub_env))
        elif sub is not None:
            nested.append(_with_intro(sections(sub, where, sub_env), desc))
        elif rows is not None:
            nested.append(_with_intro(sections(rows, f"[{where}]", None), desc))
        elif not path and _is_dict_of_scalars(info.annotation):
            nested.append(iter([Section(f"[{where}]", None, model, [desc], [])]))
        else:
            own.fields.append((key, info, desc))
    if own.fields or intro:
        yield own
    for group in nested:
        yield from group


def _with_intro(group: Iterator[Section], desc: str) -> Iterator[Section]:
    first = True
    for section in group:
        if first and desc:
            section.intro.insert(0, desc)
        first = False
        yield section


def _root_sections(
    root: type[BaseModel], where: str, desc: str, env: str | None
) -> Iterator[Section]:
    """A table of name -> model (`[prices."<model>"]`): the model's keys under that name."""
    value = typing.get_args(root.model_fields["root"].annotation)[1]
    inner = _model_class(value)
    assert inner is not None, root
    intro = [d for d in (desc, class_doc(root)) if d]
    for section in sections(inner, f'{where}."<name>"', None):
        section.intro = intro + [d for d in section.intro if d not in intro]
        yield section


def _table(section: Section) -> list[str]:
    lines = ["| key | type | default | limits | description |", "|---|---|---|---|---|"]
    for key, info, desc in section.fields:
        lines.append(
            f"| `{key}` | {_cell(type_name(info.annotation))} | {_cell(default(info))} "
            f"| {_cell(limits(info))} | {_cell(desc)} |"
        )
    return lines


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")


HEADER = """\
# Configuration reference

<!-- Generated by docs/gen_config.py from tui_monitor/config.py and the models it nests.
     Do not edit by hand: run `python docs/gen_config.py` after changing a setting. -->

The config file is TOML. `tui-monitor config path` prints where it is read from (on Linux
`~/.config/tui-monitor/config.toml`; `--config PATH` or `TUI_MONITOR_CONFIG=PATH` picks
another), `tui-monitor config init` writes a commented sample there and `tui-monitor config
show` prints the effective settings, file and environment together. Every key is optional. An
unknown key or a bad value stops the program with one line naming the file, the key and the
problem (exit 2). So does a file named with `--config` that does not exist (the default place,
or one `TUI_MONITOR_CONFIG` names, may be empty: the defaults apply) and a path that is not a
regular file (a FIFO, a device). Every number has the limits shown in its table; `inf` and
`nan` are refused everywhere. Durations stop at a day (86400 s) and retention at 100 years
(36500 days, 876000 hours), which is as good as for ever. `--interval SECONDS` on the command
line wins over `interval`, within the same limits.
"""

ENV = """\
## Environment overrides

Every setting can be overridden by an environment variable `TUI_MONITOR_<KEY>`, with `__`
between the names of nested tables: `TUI_MONITOR_INTERVAL=2`,
`TUI_MONITOR_GPU__TIMEOUT=1`, `TUI_MONITOR_STORE__RETENTION__RAW_HOURS=24`. Names are not case
sensitive. Lists and tables are given as JSON: `TUI_MONITOR_PRESETS__EXCLUDE='["ollama"]'`,
`TUI_MONITOR_KEYMAP='{"app.quit": "ctrl+q"}'`. The environment wins over the file; a bad
value is reported as `environment (TUI_MONITOR_*): <key>: <problem>`.

Three variables are not settings: `TUI_MONITOR_CONFIG` (the config file),
`TUI_MONITOR_SOCKET` (the default ingest socket for everything, the Python client included)
and `TUI_MONITOR_DEBUG=1` (print the traceback of an internal error).
"""


def _presets() -> list[str]:
    from tui_monitor.collect.rules import PRESETS

    lines = [
        "Built-in presets (names for `exclude`):",
        "",
        "| preset | kind | found as |",
        "|---|---|---|",
    ]
    for p in PRESETS:
        found = [f"program `{x}`" for x in p.programs] + [f"`python -m {m}`" for m in p.modules]
        if p.script:
            found.append(f"a script matching `{p.script}`")
        lines.append(f"| `{p.name}` | {p.kind} | {_cell(', '.join(found))} |")
    return lines


def _default_rules() -> list[str]:
    from tui_monitor.alerts.engine import format_value
    from tui_monitor.alerts.rules import default_rules

    flip = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}
    lines = [
        "The built-in rules (a value that hovers at the threshold raises one alert, not one a "
        "tick: it clears only once past the clear level for `clear_for` seconds):",
        "",
        "| name | metric | fires when | for | clears when | severity |",
        "|---|---|---|---|---|---|",
    ]
    for r in default_rules():
        if r.threshold is None:
            fires, clears = "true", "false"
        else:
            sign = -1 if r.op[0] == ">" else 1
            level = r.threshold + sign * r.clear_margin
            fires = f"{r.op} {format_value(r.metric, r.threshold)}"
            clears = f"{flip[r.op]} {format_value(r.metric, level)}"
        lines.append(
            f"| `{r.name}` | {r.metric} | {_cell(fires)} | {_number(r.for_)} s "
            f"| {_cell(clears)} | {r.severity} |"
        )
    return lines


def _keymap() -> list[str]:
    lines = [
        "Keys are Textual key names, several separated by commas without spaces: letters as "
        "themselves (`f`, `I`), `ctrl+f`, `f5`, `enter`, `escape`, and punctuation by name "
        "(`slash`, `question_mark`, `greater_than_sign`, `left_square_bracket`). Modifiers "
        "come in Textual's order, `alt`, `ctrl`, `hyper`, `meta`, `shift`, `super` "
        "(`ctrl+shift+up`).",
        "",
        "The dashboard (and `config show`) checks the keymap before it starts and stops with "
        "one line (exit 2) at an id no binding has, a key that cannot be pressed "
        "(`ctrl+shift+meta+banana`), or a key that another binding already answers where "
        'this one works: `"dashboard.filter" = "q"` would leave the dashboard without '
        '`app.quit`. Move that one too (`"app.quit" = "ctrl+q"`), or pick a free key.',
        "",
        "```toml",
        "[keymap]",
        '"dashboard.filter" = "f"',
        '"app.quit" = "q,ctrl+q"',
        "```",
        "",
        "| id | default key | where | what it does |",
        "|---|---|---|---|",
    ]
    for b in bindings():
        keys = ", ".join(
            f"`{k}`" if key_display(k) == k else f"`{key_display(k)}` (`{k}`)"
            for k in b.keys.split(",")
        )
        lines.append(f"| `{b.id}` | {keys} | {b.where} | {_cell(b.description)} |")
    return lines


def _prices() -> list[str]:
    import tomllib

    from tui_monitor.cost.builtin import LIBRARY

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = [d for d in project["dependencies"] if d.startswith(LIBRARY)]
    pin = pins[0].removeprefix(LIBRARY) if pins else "?"
    return [
        f"The built-in table is [{LIBRARY}](https://github.com/pydantic/genai-prices) "
        f"(`{LIBRARY}{pin}` in pyproject.toml): the price data bundled with the installed "
        "release, read offline, never fetched. `tui-monitor config show` prints that release "
        "in its first lines; a newer release brings newer prices (`pip install -U "
        f"{LIBRARY}` within that range). It prices a request at the rates of its own time and "
        "size: Anthropic's one-hour cache writes above five-minute ones, and long-context "
        "rates (a request above 200k input tokens, cache reads and writes included, pays them "
        "on all its tokens) where the library has them; OpenAI's cached input at its rate. "
        "The stored `cost_source` says which priced a record: `agent`, `prices` or `builtin`.",
    ]


def _agents() -> list[str]:
    return [
        "A rule needs at least one of `process`, `cmdline`, `cwd` or `pidfile`, or only "
        "`heartbeat_timeout` for an agent that only reports in; every condition given must "
        "hold. A name is 1-64 letters, digits, `_`, `.`, `:` or `-`, starting with a letter or "
        "digit. `tui-monitor agents` shows what each rule matched.",
    ]


EXTRAS = {
    "[presets]": _presets,
    "[[agents]]": _agents,
    '[prices."<name>"]': _prices,
    "[[alerts.rules]]": _default_rules,
    "[keymap]": _keymap,
}


def render() -> str:
    """The whole reference, as docs/config.md holds it."""
    from tui_monitor.config import FileSettings

    all_sections = list(sections(FileSettings))
    out = [HEADER]
    out.append("Tables: " + " · ".join(f"[`{s.title}`](#{_anchor(s.title)})" for s in all_sections))
    out.append("")
    out.append(ENV)
    for section in all_sections:
        out.append(
            f"## `{section.title}`" if section.title.startswith("[") else f"## {section.title}"
        )
        out.append("")
        for para in section.intro:
            if para:
                out.extend([para, ""])
        if section.env:
            out.extend([f"Environment: `{section.env}<KEY>`.", ""])
        if section.fields:
            out.extend([*_table(section), ""])
        extra = EXTRAS.get(section.title)
        if extra is not None:
            out.extend([*extra(), ""])
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="default: docs/config.md")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        try:
            current = args.output.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current != text:
            print(
                f"{args.output} is stale: run `python docs/gen_config.py` to regenerate it",
                file=sys.stderr,
            )
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
