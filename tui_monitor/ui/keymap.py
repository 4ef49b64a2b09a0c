"""The config's `[keymap]`, checked against the bindings the app really has before it starts.

Textual applies a keymap without a word about what it cannot use: an id no binding has, a
key no terminal sends (`ctrl+shift+meta+banana`), a key that takes another binding's place
(`q` for filter, and quit is gone). config.py reads the file without textual, so the check
lives here, with the real bindings and Textual's own key names, and runs when the dashboard
is built (`make_app`) and by `config show`: one `ConfigError` line, exit 2.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import pkgutil
import string
from collections.abc import Iterator, Mapping
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.keys import Keys, _character_to_key
from textual.screen import ModalScreen, Screen

from ..errors import ConfigError

MODIFIERS = ("alt", "ctrl", "hyper", "meta", "shift", "super")
"""Textual names a key's modifiers in this order (sorted): `ctrl+shift+up`, never
`shift+ctrl+up`, so a binding written the other way round never fires."""


@functools.cache
def key_names() -> frozenset[str]:
    """What Textual calls a key without modifiers: named keys, and printable ASCII as itself
    (letters, digits) or by name (`slash`, `question_mark`, `space`)."""
    names = {k.value for k in Keys if k.value.isidentifier()}  # not ctrl+a, <any>
    try:  # the keys a kitty-protocol terminal adds (media keys, f25-f35, ...)
        from textual._keyboard_protocol import FUNCTIONAL_KEYS

        names.update(FUNCTIONAL_KEYS.values())
    except ImportError:  # pragma: no cover - an older or newer textual
        pass
    names.update(_character_to_key(c) for c in string.printable if c not in "\t\n\r\x0b\x0c")
    return frozenset(names)


def key_problem(key: str) -> str | None:
    """Why `key` (one of a binding's comma-separated keys) can never be pressed, or None."""
    if not key:
        return "no key given"
    *mods, base = key.split("+")
    if not base or any(not m for m in mods):
        return "a '+' with nothing on one side (the + key is `plus`)"
    if len(base) == 1 and mods and not base.isalnum():
        return f"with a modifier, name the key: {'+'.join(mods)}+{_character_to_key(base)}"
    if not (base in key_names() or (len(base) == 1 and base.isprintable())):
        return (
            f"{base!r} is not a key name (a letter or digit, f1-f35, enter, escape, tab, "
            "up, pageup, ..., or punctuation by name: slash, question_mark)"
        )
    unknown = [m for m in mods if m not in MODIFIERS]
    if unknown:
        return f"{unknown[0]!r} is not a modifier ({', '.join(MODIFIERS)})"
    if len(set(mods)) != len(mods):
        return "a modifier given twice"
    if mods != sorted(mods):
        return f"Textual names it {'+'.join([*sorted(mods), base])}"
    if mods and len(base) == 1 and base.isupper():
        return f"with a modifier a letter is lower case: {'+'.join([*mods, base.lower()])}"
    return None


def binding_classes() -> list[type[DOMNode]]:
    """Every class in tui_monitor.ui that declares BINDINGS (its modules imported to see)."""
    package = importlib.import_module(__package__ or "tui_monitor.ui")
    found: list[type[DOMNode]] = []
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                cls.__module__ == module.__name__
                and "BINDINGS" in cls.__dict__
                and issubclass(cls, DOMNode)
            ):
                found.append(cls)
    return found


def binding_ids(classes: list[type[DOMNode]] | None = None) -> set[str]:
    """The ids a `[keymap]` may name."""
    return {b.id for _, b in _declared(classes or binding_classes()) if b.id}


def _declared(classes: list[type[DOMNode]]) -> Iterator[tuple[type[DOMNode], Binding]]:
    """(class, binding) for every key each class answers, its inherited bindings included."""
    for cls in classes:
        for bindings in cls._merge_bindings().key_to_bindings.values():
            for binding in bindings:
                yield cls, binding


def _scopes(classes: list[type[DOMNode]]) -> Iterator[list[type[DOMNode]]]:
    """The classes whose bindings answer keys together: a screen and the app under it; a
    modal screen alone (the app's priority bindings still reach it: see `_keys`)."""
    apps = [c for c in classes if issubclass(c, App)]
    for cls in classes:
        if issubclass(cls, Screen):
            yield [cls, *apps]
        else:
            yield [cls]


def _keys(
    scope: list[type[DOMNode]], keymap: Mapping[str, list[str]]
) -> dict[str, list[tuple[type[DOMNode], Binding]]]:
    """Key -> what answers it in `scope` once the keymap has moved its bindings."""
    modal = issubclass(scope[0], ModalScreen)
    table: dict[str, list[tuple[type[DOMNode], Binding]]] = {}
    moved: set[tuple[type[DOMNode], str]] = set()
    for cls, binding in _declared(scope):
        if modal and cls is not scope[0] and not binding.priority:
            continue
        keys = [binding.key]
        if binding.id is not None and binding.id in keymap:
            if (cls, binding.id) in moved:
                continue  # one entry per key the keymap gives, however many it had
            moved.add((cls, binding.id))
            keys = keymap[binding.id]
        for key in keys:
            table.setdefault(key, []).append((cls, binding))
    return table


def _in_the_way(other: Binding, owner: type[DOMNode], cls: type[DOMNode]) -> bool:
    """Whether `other` (of `owner`) keeps a binding of `cls` on the same key from firing.
    Every binding with an id does. Textual's own (no id) give way in their class, where a
    keymap replaces them (app.quit on ctrl+c), and elsewhere unless they are priority
    bindings: the others step aside when they have nothing to do (ctrl+c copies only a
    selection)."""
    return other.id is not None or (other.priority and owner is not cls)


def _name(binding: Binding) -> str:
    what = binding.description or binding.action
    return f"{binding.id} ({what})" if binding.id else f"Textual's {binding.action} ({what})"


def check_keymap(keymap: Mapping[str, str], config: Path) -> None:
    """Raise ConfigError naming the first entry of `keymap` that cannot work as written.

    Args:
        keymap: binding id -> comma-separated Textual key names (the config's `[keymap]`).
        config: the config file, for the message.
    """
    classes = binding_classes()
    known = binding_ids(classes)
    keys: dict[str, list[str]] = {}
    for binding_id, text in keymap.items():
        where = f"{config}: keymap.{binding_id}"
        if binding_id not in known:
            close = difflib.get_close_matches(binding_id, sorted(known), n=1)
            hint = f"did you mean {close[0]}?" if close else "docs/config.md lists them"
            raise ConfigError(f"{where}: no binding has this id ({hint})")
        keys[binding_id] = list(dict.fromkeys(_normalize(k) for k in text.split(",")))
        for key in keys[binding_id]:
            problem = key_problem(key)
            if problem is not None:
                raise ConfigError(f"{where}: {key!r} cannot be pressed: {problem}")
    for scope in _scopes(classes):
        for key, answers in _keys(scope, keys).items():
            for cls, binding in answers:
                if binding.id not in keys:
                    continue
                others = [b for c, b in answers if b.id != binding.id and _in_the_way(b, c, cls)]
                if others:
                    raise ConfigError(
                        f"{config}: keymap.{binding.id}: {key!r} is taken by {_name(others[0])}"
                        " on the same screen; give one of them another key"
                    )


def _normalize(key: str) -> str:
    """As Textual's `App.set_keymap` reads a key: trimmed, one character named (? ->
    question_mark)."""
    key = key.strip()
    return _character_to_key(key) if len(key) == 1 else key
