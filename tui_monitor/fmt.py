"""Human-readable figures shared by the CLI reports and the UI."""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def size(n: float | None) -> str:
    """Bytes as 1.5 GiB; '-' for unknown."""
    if n is None:
        return "-"
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def short_size(n: float | None) -> str:
    """Bytes in at most 5 characters (1.2G, 358M, 12K) for narrow places like the cards."""
    if n is None:
        return "-"
    value = float(n)
    for unit in "BKMGTP":
        if abs(value) < 1000 or unit == "P":
            return f"{value:.1f}{unit}" if value < 10 and unit != "B" else f"{value:.0f}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def rate(n: float | None) -> str:
    """Bytes per second as 1.5 MiB/s; '-' until a rate exists."""
    return "-" if n is None else f"{size(n)}/s"


def percent(p: float | None) -> str:
    return "-" if p is None else f"{p:.1f}%"


def duration(seconds: float | None) -> str:
    """Compact age: 45s, 12m, 3h05m, 2d04h; '-' for unknown."""
    if seconds is None:
        return "-"
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def coarse_duration(seconds: float | None) -> str:
    """Minute-grained age: <1m, 12m, 3h05m, 2d04h.

    Table cells use it: a value that changes every second on every row would rewrite the
    whole table each tick (a row is one terminal line), for nothing anyone reads.
    """
    if seconds is None:
        return "-"
    s = int(max(0, seconds))
    if s < 60:
        return "<1m"
    return f"{s // 60}m" if s < 3600 else duration(s)


def usd(value: float | None) -> str:
    """Money as the cards and the table show it: $0.42, $12.3, $1,234."""
    if value is None:
        return "-"
    if value < 10:
        return f"${value:.2f}"
    if value < 100:
        return f"${value:.1f}"
    return f"${value:,.0f}"


UNPRICED = "≥"
"""Marks a total that leaves out usage with no price: it is at least that much. In front,
so a cell or card cut short on a narrow terminal still shows it."""


UNKNOWN_COST = "unknown"
"""A total of usage none of which has a price: never `$0`, never `≥$0.00`."""


def cost(value: float | None, unpriced: int = 0) -> str:
    """A money total, `≥$0.42` when `unpriced` usage records (no price known) are left out;
    `unknown` when those are all there is (nothing priced, or priced at nothing)."""
    if not unpriced:
        return usd(value)
    if not value:
        return UNKNOWN_COST
    return UNPRICED + usd(value)


def count(n: int) -> str:
    """Token and message counts: 812, 12.3k, 4.5M, 1.2B (at most six characters below a
    trillion: a session's cache reads reach billions)."""
    if n < 10_000:
        return str(n)
    if n < 999_950:
        return f"{n / 1000:.1f}k"
    if n < 999_950_000:
        return f"{n / 1_000_000:.1f}M"
    return f"{n / 1_000_000_000:.1f}B"
