"""The one contact policy's clock: quiet hours and the cap's calendar period, in the customer's local time.

Storage is UTC; "not between 21:00 and 08:00" and "at most 2 a week" are about the customer's wall
clock and calendar, so each decision converts to the city's zone with zoneinfo (DST-correct).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

PERIODS = ("day", "week", "month")


def parse_hhmm(value: str | time) -> time:
    """'08:00' -> time(8, 0)."""
    if isinstance(value, time):
        return value
    hours, _, minutes = str(value).partition(":")
    return time(int(hours), int(minutes or 0))


def quiet_hours(settings: Mapping[str, Any]) -> tuple[time, time]:
    """The configured quiet hours (start inclusive, end exclusive; start > end wraps midnight)."""
    return parse_hhmm(settings["CONTACT_QUIET_HOURS_START"]), parse_hhmm(settings["CONTACT_QUIET_HOURS_END"])


def at_local(day: date, wall: time, tz: str) -> datetime:
    """`wall` on `day` in zone `tz`, as UTC (a wall time a DST jump skipped moves forward)."""
    return datetime.combine(day, wall, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def in_quiet_hours(at: datetime, tz: str, settings: Mapping[str, Any]) -> bool:
    """Whether `at` falls in quiet hours on the customer's wall clock."""
    start, end = quiet_hours(settings)
    if start == end:
        return False
    wall = at.astimezone(ZoneInfo(tz)).time().replace(tzinfo=None)
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end


def quiet_hours_end(at: datetime, tz: str, settings: Mapping[str, Any]) -> datetime:
    """When the quiet hours around `at` end (UTC); `at` itself outside them."""
    if not in_quiet_hours(at, tz, settings):
        return at
    _, end = quiet_hours(settings)
    local = at.astimezone(ZoneInfo(tz))
    day = local.date() if local.time().replace(tzinfo=None) < end else local.date() + timedelta(days=1)
    return at_local(day, end, tz)


def period_of(at: datetime, tz: str, period: str) -> tuple[datetime, datetime]:
    """The local calendar period ("day", "week" Monday-Sunday, "month") holding `at`, as UTC bounds."""
    day = at.astimezone(ZoneInfo(tz)).date()
    if period == "day":
        first, after = day, day + timedelta(days=1)
    elif period == "week":
        first = day - timedelta(days=day.weekday())
        after = first + timedelta(days=7)
    elif period == "month":
        first = day.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"CONTACT_CAP_PERIOD must be one of {', '.join(PERIODS)}, not {period!r}")
    return at_local(first, time(0), tz), at_local(after, time(0), tz)
