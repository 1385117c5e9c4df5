"""When to call a customer: calling hours and delays, in the customer's city's local time.

Storage is UTC; the rule "only between 09:00 and 20:00" is about the customer's wall clock, so every
decision converts to the city's zone with zoneinfo (DST-correct) and back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dispatch.platform import languages

NOT_HOME = "customer_not_home"
COMPLETED = "completed"


def parse_hhmm(value: str | time) -> time:
    """'09:00' -> time(9, 0); '24:00' -> the end of the day; a time passes through."""
    if isinstance(value, time):
        return value
    hours, _, minutes = str(value).partition(":")
    if int(hours) == 24 and int(minutes or 0) == 0:
        return time.max
    return time(int(hours), int(minutes or 0))


def calling_hours(settings: Mapping[str, Any]) -> tuple[time, time]:
    """The configured calling window (start inclusive, end exclusive), local wall-clock times."""
    start, end = parse_hhmm(settings["CALLING_HOURS_START"]), parse_hhmm(settings["CALLING_HOURS_END"])
    if not start < end:
        raise ValueError("CALLING_HOURS_START must be before CALLING_HOURS_END")
    return start, end


def _at_local(day: date, wall: time, zone: ZoneInfo) -> datetime:
    # Round-tripping through UTC normalises a wall time that a DST jump skipped (02:30 in spring).
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def in_calling_hours(at: datetime, tz: str, settings: Mapping[str, Any]) -> bool:
    """Whether `at` falls inside calling hours on the customer's wall clock."""
    start, end = calling_hours(settings)
    local = at.astimezone(ZoneInfo(tz))
    return start <= local.time().replace(tzinfo=None) < end


def next_calling_time(at: datetime, tz: str, settings: Mapping[str, Any]) -> datetime:
    """`at` if it is inside calling hours, else the start of the next window (UTC)."""
    zone = ZoneInfo(tz)
    start, end = calling_hours(settings)
    local = at.astimezone(zone)
    wall = local.time().replace(tzinfo=None)
    if start <= wall < end:
        return at.astimezone(UTC)
    day = local.date() if wall < start else local.date() + timedelta(days=1)
    return _at_local(day, start, zone)


def first_call_delay(claim: str, settings: Mapping[str, Any]) -> timedelta:
    """How long after the closing the first call goes out, by what the provider claimed."""
    if claim == NOT_HOME:
        minutes = settings["CALLBACK_DELAY_NOT_HOME_MINUTES"]
    elif claim == COMPLETED:
        minutes = settings["CALLBACK_DELAY_COMPLETED_MINUTES"]
    else:
        minutes = settings["CALLBACK_DELAY_OTHER_MINUTES"]
    return timedelta(minutes=float(minutes))


def first_call_at(claim: str, closed_at: datetime, tz: str, settings: Mapping[str, Any]) -> datetime:
    """When the first verification call for a closing goes out (UTC, inside calling hours)."""
    return next_calling_time(closed_at + first_call_delay(claim, settings), tz, settings)


def after(now: datetime, minutes: int, tz: str, settings: Mapping[str, Any]) -> datetime:
    """`minutes` from now, moved into calling hours."""
    return next_calling_time(now + timedelta(minutes=float(minutes)), tz, settings)


def local_day(at: datetime, tz: str) -> date:
    """The calendar day of `at` on the customer's wall clock."""
    return at.astimezone(ZoneInfo(tz)).date()


def end_of_day(day: date, tz: str, settings: Mapping[str, Any]) -> datetime:
    """The moment (UTC) after which an order booked for `day` and still open gets a status check."""
    return _at_local(day, parse_hhmm(settings["CALLBACK_END_OF_DAY"]), ZoneInfo(tz))


def spoken_day(at: datetime | None, tz: str, language: str | None = None) -> str:
    """'Tuesday 24 November' (or '11月24日星期二') in the customer's city: what the robot says."""
    return languages.spoken_day(at, tz, language)


def local_time(at: datetime, tz: str) -> datetime:
    """`at` on the customer's wall clock (aware, in the city's zone)."""
    return at.astimezone(ZoneInfo(tz))
