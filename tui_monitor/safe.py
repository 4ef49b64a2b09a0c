"""The one sanitiser for untrusted text: agent names, messages, process names, cmdlines.

Any local user can put anything into argv or a process name, so such strings may hold
terminal escape sequences, bidi overrides or megabytes of text. `clean` makes them inert
and bounded: control characters are shown escaped (``\\x1b``), never passed through.
Rendering is still done with `rich.text.Text` objects (see `text`), so markup such as
``[@click=app.quit]`` stays literal text.

Characters whose width Rich and the terminal disagree on shift every column after them
(Rich lays out by its own table, the terminal by its libc's `wcwidth`), so they are escaped
too. Names (`name`, `name_text`) go further: anything invisible, combining or blank-looking is
escaped and so is the backslash, so two different names never look the same on screen.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rich.cells import get_character_cell_size
from rich.text import Text

ELLIPSIS = "…"

# C0 controls (tab and newline handled separately), DEL, C1 controls, bidi embeddings,
# overrides and isolates, LRM/RLM/ALM, line/paragraph separators, and lone surrogates
# (what os.fsdecode leaves for undecodable bytes).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
    "\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_UNSAFE_ONELINE = re.compile(_UNSAFE.pattern[:-1] + "\t\n]")
_UNSAFE_NAME = re.compile(_UNSAFE_ONELINE.pattern[:-1] + "\\\\]")

VS16 = "\ufe0f"
"""Emoji presentation: Rich widens the character before it, a libc terminal does not. Free
text drops it from the display (the character shows in its text form); names escape it."""
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f\u17b4\u17b5")
"""Letters and symbols that draw nothing (Hangul fillers, the blank braille cell, ...)."""
_EMOJI_PARTS = frozenset(
    [chr(c) for c in range(0x1F1E6, 0x1F200)]  # regional indicators (halves of flags)
    + [chr(c) for c in range(0x1F3FB, 0x1F400)]  # skin-tone modifiers
)
_JOINERS = frozenset("\u200c\u200d")
"""ZWNJ and ZWJ: free text keeps them (Persian, Indic scripts, emoji sequences)."""
_NAME_CATEGORIES = frozenset(("L", "N", "P", "S"))
"""Letters, numbers, punctuation, symbols: no marks, separators, formats or unassigned."""

NAME_MAX = 128
CMDLINE_MAX = 2048
MESSAGE_MAX = 8192


def terminal_width(char: str) -> int:
    """The width a libc terminal gives `char` (the wcwidth algorithm over Python's Unicode
    data): 0 for marks and formats, 2 for East Asian wide and fullwidth, else 1."""
    category = unicodedata.category(char)
    if category in ("Mn", "Me") or (category == "Cf" and char != "\u00ad"):
        return 0
    if "\u1160" <= char <= "\u11ff":  # Hangul medial vowels and final consonants
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


@lru_cache(maxsize=4096)
def _width_lies(char: str) -> bool:
    """True for a character Rich measures differently from a terminal, unassigned, or an
    invisible format character some terminals draw anyway (U+FFF9-FFFB); the joiners that
    scripts and emoji need stay."""
    category = unicodedata.category(char)
    if category in ("Cn", "Cs") or (category == "Cf" and char not in _JOINERS):
        return True
    return get_character_cell_size(char) != terminal_width(char)


@lru_cache(maxsize=4096)
def _name_shows(char: str) -> bool:
    """True for a character a name may show as itself: visible, one or two cells whatever
    the terminal, and not mistaken for another."""
    if char.isascii():
        return char.isprintable() and char != "\\"
    if unicodedata.category(char)[0] not in _NAME_CATEGORIES:
        return False
    if char in _BLANK or char in _EMOJI_PARTS or _width_lies(char):
        return False
    return get_character_cell_size(char) in (1, 2)


def _escaped(char: str) -> str:
    code = ord(char)
    if code == 0x09:
        return "\\t"
    if code == 0x0A:
        return "\\n"
    if code == 0x5C:
        return "\\\\"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _escape(match: re.Match[str]) -> str:
    return _escaped(match.group())


def _widths(s: str) -> str:
    """Escape what would shift the columns after it; drop VS16 (see its note)."""
    odd = {c for c in set(s) if not c.isascii() and (c == VS16 or _width_lies(c))}
    if not odd:
        return s
    return "".join(("" if c == VS16 else _escaped(c)) if c in odd else c for c in s)


def _names(s: str) -> str:
    """Escape everything a name may not show as itself."""
    if s.isascii() and s.isprintable() and "\\" not in s:
        return s
    return "".join(c if _name_shows(c) else _escaped(c) for c in s)


def clean(
    value: object, limit: int = MESSAGE_MAX, *, multiline: bool = False, strict: bool = False
) -> str:
    """Return `value` as a printable string of at most `limit` characters.

    With ``multiline`` tab and newline are kept; otherwise they are escaped too, so one-line
    fields (names, cmdlines) can never break a table row. ``strict`` is for names (see
    `name`).
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    s = value if isinstance(value, str) else str(value)
    # Escaping can grow the text up to 10x; bound the work before and the result after.
    s = s[: limit + 1]
    if strict:
        s = _names(s)
    else:
        s = (_UNSAFE if multiline else _UNSAFE_ONELINE).sub(_escape, s)
        if not s.isascii():
            s = _widths(s)
    if len(s) > limit:
        s = s[: limit - 1] + ELLIPSIS if limit > 0 else ""
    return s


def name(value: object, limit: int = NAME_MAX) -> str:
    """A name (agent, kind, status, model, process, host): one line, short, and unmistakable.

    Only letters, digits, punctuation and symbols of a width every terminal agrees on are
    shown as themselves; everything else, and the backslash, is escaped, so a name can be
    read back exactly from the screen and two different names never look the same.
    """
    return clean(value, limit, strict=True)


def cmdline(argv: list[str] | tuple[str, ...] | str) -> str:
    """A command line joined with spaces, one line, bounded."""
    if not isinstance(argv, str):
        # Join lazily so a 100 kB argv costs no more than the bound.
        parts: list[str] = []
        size = 0
        for arg in argv:
            parts.append(arg)
            size += len(arg) + 1
            if size > CMDLINE_MAX:
                break
        argv = " ".join(parts)
    return clean(argv, CMDLINE_MAX)


def text(value: object, style: str = "", limit: int = MESSAGE_MAX) -> Text:
    """Untrusted free text (a message, a task, a command line) as a rich `Text` (never
    markup), cleaned first."""
    return Text(clean(value, limit), style=style, no_wrap=True, end="")


def name_text(value: object, style: str = "", limit: int = NAME_MAX) -> Text:
    """An untrusted name as a rich `Text` (see `name`)."""
    return Text(name(value, limit), style=style, no_wrap=True, end="")
