"""Times people type: `now`, `90m`, `1h30m ago`, `14:05`, `2026-11-21 14:05`, RFC 3339.

Shared by `--at`/`--since`/`--until`, the replay prompt and the exports. Stdlib only: it is
imported on the dashboard's start-up path.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

FORMS = "now, 90s / 5m / 1h30m / 2d (ago), 14:05[:30], 2026-11-21 [14:05], RFC 3339 or @EPOCH"
_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}  # fmt: skip
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)\s*")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?\s*[a-z]+\s*)+")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?")
_EPOCH = re.compile(r"@(\d{1,12}(?:\.\d{1,6})?)")
_MAX_SECONDS = 100 * 365 * 86400
"""No duration is longer than a century (timedelta itself stops near 2.7 million years)."""


def _shown(text: str) -> str:
    """The input as it can be quoted on one line (repr escapes newlines and controls)."""
    return repr(text if len(text) <= 60 else text[:59] + "…")


def _seconds(body: str) -> float | None:
    """Seconds of `1h30m`-style text (already lower-cased, stripped), None if it is not one."""
    if not _DURATION.fullmatch(body):
        return None
    total = 0.0
    for number, unit in _PART.findall(body):
        scale = _UNITS.get(unit)
        if scale is None:
            return None
        total += float(number) * scale
    return total


def parse_duration(text: str) -> timedelta:
    """A positive length of time: `90s`, `5m`, `1h30m`, `2d` (also `1.5h`, `2 hours`)."""
    seconds = _seconds(text.strip().lower())
    if seconds is None or not 0 < seconds <= _MAX_SECONDS:
        raise ValueError(
            f"bad duration {_shown(text)}: expected a positive length such as 90s, 5m, 1h30m or 2d"
        )
    return timedelta(seconds=seconds)


def _local(day: date, clock: time) -> datetime:
    """That wall-clock time in the system's local time zone."""
    return datetime.combine(day, clock).astimezone()


def _clock(match: re.Match[str], now: datetime) -> datetime:
    hour, minute = int(match[1]), int(match[2])
    second = int(match[3] or 0)
    micro = round(float(match[4]) * 1_000_000) if match[4] else 0
    clock = time(hour, minute, second, min(micro, 999_999))  # ValueError when out of range
    today = now.astimezone().date()
    found = _local(today, clock)
    if found > now:
        found = _local(today - timedelta(days=1), clock)
    return found


def _absolute(text: str, now: datetime) -> datetime | None:
    """A keyword, a clock time, an epoch or an ISO 8601 date/time; None if none of them."""
    low = text.lower()
    if low == "now":
        return now
    if low in ("today", "yesterday"):
        day = now.astimezone().date() - timedelta(days=low == "yesterday")
        return _local(day, time())
    if m := _CLOCK.fullmatch(text):
        return _clock(m, now)
    if m := _EPOCH.fullmatch(text):
        return datetime.fromtimestamp(float(m[1]), UTC)
    if not text[:1].isdigit():
        return None
    iso = text.upper()
    if iso.endswith("Z"):
        iso = iso[:-1] + "+00:00"
    parsed = datetime.fromisoformat(iso)  # ValueError for anything else
    return parsed.astimezone() if parsed.tzinfo is None else parsed


def parse_when(text: str, now: datetime) -> datetime:
    """An aware UTC datetime; relative forms count back from `now` (naive `now` = UTC).

    Naive dates and clock times are local time; a clock time later than now is yesterday's.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    body = text.strip()
    try:
        low = body.lower()
        ago = False
        if low.endswith(" ago"):
            low, ago = low[:-4].rstrip(), True
        elif low.startswith("-"):
            low, ago = low[1:].lstrip(), True
        seconds = _seconds(low)
        if seconds is not None:
            if seconds > _MAX_SECONDS:
                raise ValueError("too far back")
            return (now - timedelta(seconds=seconds)).astimezone(UTC)
        found = None if ago else _absolute(body, now)
    except (ValueError, OverflowError, OSError):
        found = None
    if found is None:
        raise ValueError(f"bad time {_shown(text)}: expected {FORMS}")
    return found.astimezone(UTC)


NEAR_SECONDS = 10.0
"""How far the tick shown may lie from the time asked for before that is said: a recorder
ticks every second or few, so a lookup lands that close whenever anything was recorded."""


def _stamp(dt: datetime) -> str:
    zone = "Z" if dt.utcoffset() == timedelta(0) else ""
    return f"{dt:%Y-%m-%d %H:%M:%S}{zone}"


def shown_instead(
    asked: datetime, shown: datetime, verb: str = "showing", *, slack: float = NEAR_SECONDS
) -> str | None:
    """What to say when the tick shown is not at the time asked for: before the history
    starts (the oldest tick is shown), or in a gap or past its end (the last one before).
    None when it is close enough. The dashboard (`g`, `--at`) and `export snapshot --at` say
    it in the same words; give both datetimes in the zone to show them in.
    """
    gap = (shown - asked).total_seconds()
    if abs(gap) <= slack:
        return None
    from .fmt import duration

    which = "the oldest tick" if gap > 0 else "the last tick before it"
    way = "later" if gap > 0 else "earlier"
    return (
        f"nothing recorded at {_stamp(asked)}: {verb} {which}, {_stamp(shown)} "
        f"({duration(abs(gap))} {way})"
    )
