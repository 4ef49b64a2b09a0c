"""The sanitiser for untrusted text: inert, visible, bounded."""

from __future__ import annotations

import ctypes
import ctypes.util
import locale
import os
import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.text import Text

from tui_monitor import safe

# What may never reach a terminal from untrusted text (tab/newline only in multiline mode).
UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
    "\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
UNSAFE_ONELINE = re.compile(UNSAFE.pattern[:-1] + "\t\n]")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("\x9b2J", "\\x9b2J"),  # C1 CSI
        ("a\x85b", "a\\x85b"),  # C1 NEL
        ("\x00\x7f", "\\x00\\x7f"),
        ("\r", "\\x0d"),
        ("abc\u202edef", "abc\\u202edef"),  # right-to-left override
        ("\u2066x\u2069", "\\u2066x\\u2069"),  # isolates
        ("a\u2028b", "a\\u2028b"),
        ("\ufeffbom", "\\ufeffbom"),
    ],
)
def test_control_characters_are_escaped_visibly(raw: str, shown: str) -> None:
    assert safe.clean(raw) == shown
    assert safe.clean(raw, multiline=True) == shown


def test_markup_is_kept_literally() -> None:
    for s in ("[/]", "[@click=app.quit]", "[bold red]x[/bold red]", "[link=file:///etc]"):
        assert safe.clean(s) == s
        assert safe.name(s) == s


def test_ordinary_unicode_is_untouched() -> None:
    s = "naïve — 日本語 emoji 🚀 Ωμέγα"
    assert safe.clean(s) == s


def test_one_line_mode_escapes_newline_and_tab() -> None:
    assert safe.clean("a\nb\tc") == "a\\nb\\tc"
    assert safe.name("x\ny") == "x\\ny"
    assert safe.cmdline(["a\nb", "c\td"]) == "a\\nb c\\td"


def test_multiline_keeps_newline_and_tab() -> None:
    assert safe.clean("a\nb\tc\x1b", multiline=True) == "a\nb\tc\\x1b"


def test_truncates_to_the_limit_with_an_ellipsis() -> None:
    out = safe.clean("x" * 1000, 10)
    assert out == "x" * 9 + safe.ELLIPSIS
    assert len(out) == 10
    assert safe.clean("x" * 10, 10) == "x" * 10  # exactly at the limit: untouched
    assert len(safe.clean("\x1b" * 1000, 10)) == 10  # escapes grow, the bound holds
    assert len(safe.name("n" * 10_000)) == safe.NAME_MAX
    assert len(safe.clean("m" * 100_000)) == safe.MESSAGE_MAX


def test_lone_surrogates_are_escaped() -> None:
    raw = os.fsdecode(b"caf\xff\xfe")  # what undecodable argv bytes become
    out = safe.clean(raw)
    assert out == "caf\\udcff\\udcfe"
    out.encode("utf-8")  # strict: no surrogate survives


def test_bytes_input() -> None:
    assert safe.clean(b"ok \xff\x1b[0m") == "ok \\xff\\x1b[0m"
    assert safe.clean(b"caf\xc3\xa9") == "café"
    assert safe.name(b"\x1b[31m[/]x") == "\\x1b[31m[/]x"


def test_non_string_values() -> None:
    assert safe.clean(None) == "None"
    assert safe.clean(42) == "42"
    assert safe.clean(ValueError("bad\nthing")) == "bad\\nthing"


def test_cmdline_is_bounded_without_joining_everything() -> None:
    argv = ["python", "-c", "x" * 100_000, *(["arg"] * 100_000)]
    out = safe.cmdline(argv)
    assert len(out) <= safe.CMDLINE_MAX
    assert out.startswith("python -c xxx") and out.endswith(safe.ELLIPSIS)
    assert safe.cmdline(("a", "[/]", "b")) == "a [/] b"
    assert safe.cmdline("already joined\n") == "already joined\\n"
    assert safe.cmdline([]) == ""


def test_text_is_a_rich_text_not_markup() -> None:
    t = safe.text("[bold]x[/bold] [@click=app.quit] \x1b[2J", style="red")
    assert isinstance(t, Text)
    assert t.plain == "[bold]x[/bold] [@click=app.quit] \\x1b[2J"
    assert t.spans == []  # nothing was parsed as markup
    assert t.style == "red"


_any_char = st.characters(codec=None, exclude_categories=())
_untrusted = st.one_of(
    st.text(_any_char, max_size=300),
    st.text(st.sampled_from("\x1b\x9b\u202e\n\t\r[]/@=\ud800\udfffa"), max_size=300),
    st.binary(max_size=300),
)


@given(value=_untrusted, limit=st.integers(min_value=1, max_value=400))
def test_property_output_is_safe_and_bounded(value: str | bytes, limit: int) -> None:
    out = safe.clean(value, limit)
    assert not UNSAFE_ONELINE.search(out)
    assert len(out) <= limit
    out.encode("utf-8")


@given(value=_untrusted, limit=st.integers(min_value=1, max_value=400))
def test_property_multiline_is_safe_and_bounded(value: str | bytes, limit: int) -> None:
    out = safe.clean(value, limit, multiline=True)
    assert not UNSAFE.search(out)
    assert len(out) <= limit


@given(value=st.text(_any_char, max_size=200))
def test_property_safe_text_is_unchanged(value: str) -> None:
    if not UNSAFE_ONELINE.search(value) and all(_kept_in_text(c) for c in value):
        assert safe.clean(value, 200) == value


def _kept_in_text(c: str) -> bool:
    return c.isascii() or (
        (unicodedata.category(c) not in ("Cn", "Cf") or c in "\u200c\u200d")
        and c != safe.VS16
        and cell_len(c) == safe.terminal_width(c)
    )


@given(argv=st.lists(st.text(_any_char, max_size=50), max_size=20))
def test_property_cmdline(argv: list[str]) -> None:
    out = safe.cmdline(argv)
    assert not UNSAFE_ONELINE.search(out)
    assert len(out) <= safe.CMDLINE_MAX


# -- names: what the terminal shows is what Rich measured, and tells every name apart ------

HOSTILE = (
    "\u0378\u0903\u2630\u3164\U0001f3fb\ufff9\ufffa\ufffb\u200b\u200d\ufe0f\u0301\u00a0\u2800\\"
)
"""Characters of issue 13 item 18 (and their cousins) whose width Rich and terminals disagree
on, or that draw nothing."""


def _libc_wcwidth() -> object:
    """glibc's wcwidth in a UTF-8 locale: the width tmux and most Linux terminals use."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        locale.setlocale(locale.LC_CTYPE, "C.UTF-8")
    except locale.Error:
        return None
    fn = ctypes.CDLL(name).wcwidth
    fn.argtypes, fn.restype = [ctypes.c_wchar], ctypes.c_int
    return fn


WCWIDTH = _libc_wcwidth()


def _decode(shown: str) -> list[tuple[str, bool]]:
    """A displayed name back into its characters, each with whether it was escaped."""
    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(shown):
        c = shown[i]
        if c != "\\":
            out.append((c, False))
            i += 1
            continue
        kind = shown[i + 1]
        if kind in "\\tn":
            out.append(({"\\": "\\", "t": "\t", "n": "\n"}[kind], True))
            i += 2
            continue
        digits = {"x": 2, "u": 4, "U": 8}[kind]
        out.append((chr(int(shown[i + 2 : i + 2 + digits], 16)), True))
        i += 2 + digits
    return out


def _check_name(value: str) -> None:
    shown = safe.name(value, limit=10_000)
    decoded = _decode(shown)
    # Read back exactly: so distinct names never display the same.
    assert "".join(c for c, _ in decoded) == value
    for c, escaped in decoded:
        if escaped:
            continue
        width = cell_len(c)  # what Rich and Textual lay out with
        assert width in (1, 2), (c, width)
        assert width == safe.terminal_width(c), c
        if WCWIDTH is not None:
            assert WCWIDTH(c) == width, (hex(ord(c)), WCWIDTH(c), width)  # type: ignore[operator]
    assert cell_len(shown) == sum(cell_len(c) for c in shown)  # no joiner or VS16 in it


@pytest.mark.parametrize("c", list(HOSTILE))
def test_names_escape_what_shifts_columns_or_draws_nothing(c: str) -> None:
    assert safe.name(f"a{c}b") == f"a{safe._escaped(c)}b"
    _check_name(f"a{c}b")


def test_a_name_hidden_behind_unassigned_characters_shows_them() -> None:
    assert safe.name("\u0378" * 8 + "planner") == "\\u0378" * 8 + "planner"
    assert safe.name("\u0378" * 8 + "planner") != safe.name("planner")
    assert safe.name("e\u0301") != safe.name("\u00e9")  # decomposed vs precomposed
    assert safe.name("a\\x1b") != safe.name("a\x1b")  # a literal backslash is escaped too
    assert safe.name("\U0001f3fb") != safe.name("\\u1f3fb")


def test_names_keep_letters_of_every_script_and_emoji() -> None:
    for s in ("naïve", "日本語", "Ωμέγα", "Привет", "🚀 deploy", "coder#1 [/] @x=1"):
        assert safe.name(s) == s


def test_free_text_keeps_emoji_and_joiners_but_not_width_lies() -> None:
    assert safe.clean("done 🎉 👨\u200d👩\u200d👧") == "done 🎉 👨\u200d👩\u200d👧"
    assert safe.clean("⚠\ufe0f careful") == "⚠ careful"  # Rich would count 2, tmux 1
    assert safe.clean("x\u2630y\u3164z") == "x\\u2630y\\u3164z"
    assert safe.clean("\ufff9a\ufffb") == "\\ufff9a\\ufffb"
    assert safe.clean("a\\b") == "a\\b"  # free text keeps its backslashes


_name_chars = st.one_of(_any_char, st.sampled_from(HOSTILE + "\\xu0123abc"))


@given(value=st.text(_name_chars, max_size=40))
def test_property_names_are_exact_and_measured_right(value: str) -> None:
    _check_name(value)


@given(a=st.text(_name_chars, max_size=12), b=st.text(_name_chars, max_size=12))
def test_property_distinct_names_never_look_the_same(a: str, b: str) -> None:
    if a != b:
        assert safe.name(a) != safe.name(b)


@given(value=st.text(_name_chars, max_size=40))
def test_property_free_text_cleaning_leaves_a_name_as_it_is(value: str) -> None:
    """A name shown inside a message (an alert's) is not escaped twice."""
    shown = safe.name(value)
    assert safe.clean(shown) == shown
