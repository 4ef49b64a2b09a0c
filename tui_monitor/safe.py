"""The one sanitiser for untrusted text: agent names, messages, process names, cmdlines.

Any local user can put anything into argv or a process name, so such strings may hold
terminal escape sequences, bidi overrides or megabytes of text. `clean` makes them inert
and bounded: control characters are shown escaped (``\\x1b``), never passed through.
Rendering is still done with `rich.text.Text` objects (see `text`), so markup such as
``[@click=app.quit]`` stays literal text.
"""

from __future__ import annotations

import re

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

NAME_MAX = 128
CMDLINE_MAX = 2048
MESSAGE_MAX = 8192


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x09:
        return "\\t"
    if code == 0x0A:
        return "\\n"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def clean(value: object, limit: int = MESSAGE_MAX, *, multiline: bool = False) -> str:
    """Return `value` as a printable string of at most `limit` characters.

    With ``multiline`` tab and newline are kept; otherwise they are escaped too, so one-line
    fields (names, cmdlines) can never break a table row.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    s = value if isinstance(value, str) else str(value)
    # Escaping can grow the text up to 6x; bound the work before and the result after.
    s = s[: limit + 1]
    pattern = _UNSAFE if multiline else _UNSAFE_ONELINE
    s = pattern.sub(_escape, s)
    if len(s) > limit:
        s = s[: limit - 1] + ELLIPSIS if limit > 0 else ""
    return s


def name(value: object) -> str:
    """An agent or process name: one line, short."""
    return clean(value, NAME_MAX)


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
    """Untrusted text as a rich `Text` (never markup), cleaned first."""
    return Text(clean(value, limit), style=style, no_wrap=True, end="")
