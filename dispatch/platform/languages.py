"""The languages Dispatch speaks with customers: prompts, texts and the words understood in replies."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dispatch.platform.errors import Invalid

ENGLISH = "en"
MANDARIN = "zh-CN"
LANGUAGES = (ENGLISH, MANDARIN)


def check(value: str, field: str = "language") -> str:
    """`value` if Dispatch speaks it, else a 422 naming the field and the choices."""
    if value not in LANGUAGES:
        raise Invalid.field(field, f"must be one of {', '.join(LANGUAGES)}, not {value!r}")
    return value


_WEEKDAYS_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def spoken_day(at: datetime | None, tz: str, language: str | None = None) -> str:
    """'Tuesday 24 November' (or '11月24日星期二') on the wall clock of zone `tz`."""
    zh = (language or "").startswith("zh")
    if at is None:
        return "您预约的那天" if zh else "your appointment day"
    local = at.astimezone(ZoneInfo(tz))
    if zh:
        return f"{local.month}月{local.day}日{_WEEKDAYS_ZH[local.weekday()]}"
    # Not strftime: %A/%B follow the process's locale, and the customer's words must not.
    return f"{_WEEKDAYS_EN[local.weekday()]} {local.day} {_MONTHS_EN[local.month - 1]}"
