"""The sanitiser for untrusted text: inert, visible, bounded."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
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
    if not UNSAFE_ONELINE.search(value):
        assert safe.clean(value, 200) == value


@given(argv=st.lists(st.text(_any_char, max_size=50), max_size=20))
def test_property_cmdline(argv: list[str]) -> None:
    out = safe.cmdline(argv)
    assert not UNSAFE_ONELINE.search(out)
    assert len(out) <= safe.CMDLINE_MAX
