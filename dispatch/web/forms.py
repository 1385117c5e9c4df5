"""The pages' form handling, shared by every form so that the views stay thin: reading a form's
fields, length limits, wall-clock times in the customer's zone, the domain's field errors as the
form's fields, and finishing a one-time form (stored answer, commit, message, redirect)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask import flash, redirect, request
from flask.typing import ResponseReturnValue

from dispatch.orders import booking
from dispatch.platform.errors import DomainError
from dispatch.web import once
from dispatch.web.context import db


def read(*names: str) -> dict[str, str]:
    """The posted values of these fields, trimmed ("" when absent)."""
    return {name: request.form.get(name, "").strip() for name in names}


def too_long(form: Mapping[str, str], errors: dict[str, str], limits: Mapping[str, int]) -> None:
    """A message beside each field longer than its limit (characters)."""
    for name, limit in limits.items():
        if len(form[name]) > limit:
            errors.setdefault(name, f"At most {limit} characters ({len(form[name])} now).")


def wall_clock(text: str, tz: str) -> datetime | None:
    """A datetime-local value ("2026-11-24T14:30") on the wall clock of `tz`; None if unreadable
    or written with an offset of its own."""
    try:
        wall = datetime.fromisoformat(text)
    except ValueError:
        return None
    return None if wall.tzinfo is not None else wall.replace(tzinfo=ZoneInfo(tz))


def window(form: Mapping[str, str], errors: dict[str, str], *, required: bool) -> booking.Window | None:
    """A day and two wall-clock times (fields day, start, end: the customer's) as a Window of
    naive local times, which the domain reads on the wall clock of the customer's city."""
    if not (form["day"] or form["start"] or form["end"]):
        if required:
            errors["day"] = "Choose the day the customer wants."
        return None
    day = start = end = None
    try:
        day = date.fromisoformat(form["day"])
    except ValueError:
        errors["day"] = "Give a day, like 2026-12-03."
    for name in ("start", "end"):
        try:
            value = time.fromisoformat(form[name])
        except ValueError:
            errors[name] = "Give a time, like 09:00."
            continue
        if name == "start":
            start = value
        else:
            end = value
    if day is None or start is None or end is None:
        return None
    return booking.Window(datetime.combine(day, start), datetime.combine(day, end))


# The domain's names for an appointment's times, as the window fields above.
WINDOW_FIELDS = {
    "window.start": "start",
    "window.end": "end",
    "appointment.start": "start",
    "appointment.end": "end",
}


def field_errors(
    exc: DomainError, fallback: str, names: Mapping[str, str] | None = None, *, sentence: bool = False
) -> dict[str, str]:
    """The domain's field messages on this form's fields: a field is renamed through `names`
    (a field it does not name goes on `fallback`; without `names`, each keeps its own name).
    With `sentence`, each reads "This <message>." beside its field."""
    out: dict[str, str] = {}
    for path, messages in exc.fields.items():
        name = path if names is None else names.get(path, fallback)
        out[name] = "; ".join([out[name], *messages] if name in out else messages)
    if sentence:
        out = {name: f"This {words}." for name, words in out.items()}
    return out or {fallback: exc.message}


def saved(key: str | None, location: str, message: str) -> ResponseReturnValue:
    """The form's work is done: store the answer under its one-time key, commit, say `message`
    on the next page, and go to `location`."""
    once.done(key, location, message)
    db().commit()
    flash(message, "success")
    return redirect(location, 303)
