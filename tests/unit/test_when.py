"""Times people type, parsed against a fixed `now` in a fixed local time zone."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tui_monitor.when import parse_duration, parse_when

NOW = datetime(2026, 11, 21, 14, 0, 0, tzinfo=UTC)  # 15:00 in Berlin (CET, +01:00)


@pytest.fixture(autouse=True)
def berlin() -> Iterator[None]:
    """Local time is Europe/Berlin, so 'local' and 'UTC' differ by an hour."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("NOW", NOW),
        ("90s", NOW - timedelta(seconds=90)),
        ("5m", NOW - timedelta(minutes=5)),
        ("1h", NOW - timedelta(hours=1)),
        ("2d", NOW - timedelta(days=2)),
        ("1h30m", NOW - timedelta(minutes=90)),
        ("1h 30m", NOW - timedelta(minutes=90)),
        ("1.5h", NOW - timedelta(minutes=90)),
        ("-5m", NOW - timedelta(minutes=5)),
        ("5m ago", NOW - timedelta(minutes=5)),
        ("2 hours ago", NOW - timedelta(hours=2)),
        ("1w", NOW - timedelta(days=7)),
        ("  10m  ", NOW - timedelta(minutes=10)),
    ],
)
def test_relative_times_count_back_from_now(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21T14:05:30Z", utc(2026, 11, 21, 14, 5, 30)),
        ("2026-11-21t14:05:30z", utc(2026, 11, 21, 14, 5, 30)),
        ("2026-11-21T14:05:30+02:00", utc(2026, 11, 21, 12, 5, 30)),
        ("2026-11-21T14:05:30.250Z", utc(2026, 11, 21, 14, 5, 30, 250000)),
        # no offset: local time (Berlin is +01:00 in November, +02:00 in July)
        ("2026-11-21 14:05", utc(2026, 11, 21, 13, 5)),
        ("2026-07-01 14:05", utc(2026, 7, 1, 12, 5)),
        ("2026-11-21", utc(2026, 11, 20, 23, 0)),
        ("@1700000000", utc(2023, 11, 14, 22, 13, 20)),
        ("today", utc(2026, 11, 20, 23, 0)),
        ("yesterday", utc(2026, 11, 19, 23, 0)),
    ],
)
def test_absolute_times(text: str, expected: datetime) -> None:
    got = parse_when(text, NOW)
    assert got == expected
    assert got.tzinfo is UTC


def test_a_clock_time_is_today_or_yesterday_local() -> None:
    # now is 15:00 local
    assert parse_when("14:05", NOW) == utc(2026, 11, 21, 13, 5)
    assert parse_when("14:05:30", NOW) == utc(2026, 11, 21, 13, 5, 30)
    assert parse_when("15:00", NOW) == NOW  # exactly now is not the future
    assert parse_when("15:01", NOW) == utc(2026, 11, 20, 14, 1)  # later today: yesterday's
    assert parse_when("0:00", NOW) == utc(2026, 11, 20, 23, 0)


def test_a_naive_now_is_utc() -> None:
    assert parse_when("5m", NOW.replace(tzinfo=None)) == NOW - timedelta(minutes=5)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "x",
        "5",
        "5x",
        "5 m x",
        "+5m",
        "25:00",
        "14:61",
        "-14:05",
        "now ago",
        "2026-13-01",
        "2026-11-21 25:00",
        "999999999999d",
        "@",
        "\x1b[31mred\n",
        "x" * 10_000,
    ],
)
def test_bad_times_are_one_line_value_errors(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_when(text, NOW)
    message = str(info.value)
    assert "\n" not in message and "\x1b" not in message
    assert message.startswith("bad time ") and "1h30m" in message and "14:05" in message
    assert len(message) < 200
    assert repr(text[:20])[1:-1] in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("2 days", timedelta(days=2)),
        ("0.5s", timedelta(milliseconds=500)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "0s", "0m0s", "-5m", "5", "5q", "1h ago", "now", "14:05"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match=r"^bad duration "):
        parse_duration(text)


def test_when_is_cheap_to_import() -> None:
    """Stdlib only: it is on the dashboard's start-up path."""
    import subprocess
    import sys

    code = (
        "import sys; import tui_monitor.when; "
        "bad = [m for m in ('pydantic', 'click', 'textual', 'rich', 'sqlite3') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
