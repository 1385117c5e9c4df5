"""The customer's confirmation and day-before reminder of a booked visit, tied to one booking version.

`booking_changed` runs (dispatch/bookings.py HANDLERS) once per version of an order's booking. It
supersedes what is still pending for older versions (a reschedule, a cancellation, a closing), and
for a booking ("book", "reschedule", or an order created booked) queues a confirmation now and a
reminder at CUSTOMER_REMINDER_LOCAL_TIME on the day before the visit, in the city's local time.
Both are composed at send time and sent only if that version still stands and the order is still
booked for a visit not yet begun: never a reminder for a slot that no longer exists, never twice
(dedupe key per order and version), never with the old time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dispatch import outreach
from dispatch.models import CustomerMessage, OrderState, WorkOrder, utcnow
from dispatch.outreach import policy
from dispatch.platform.actors import Actor
from dispatch.platform.languages import spoken_day
from dispatch.reminders import texts

CONFIRMATION = "booking_confirmation"
REMINDER = "booking_reminder"
PURPOSES = (CONFIRMATION, REMINDER)
ROBOT = Actor.system("reminders")

# What a newer version means for the messages of an older one (the reason in the history).
_WHY = {
    "reschedule": "the visit was rescheduled",
    "cancel": "the order was cancelled",
    "close": "the order was closed",
    "unbook": "the booking was withdrawn",
    "book": "the order was booked again",
    "assign": "the order was assigned again",
    "reopen": "the order was reopened",
}
# Actions that (may) give a new booked visit: the customer is told of it.
_BOOKING_ACTIONS = frozenset({"create", "book", "reschedule", "reopen", "assign"})


def reminder_time(order: WorkOrder, settings: Mapping[str, Any]) -> datetime:
    """When the reminder goes out: CUSTOMER_REMINDER_LOCAL_TIME on the day before the visit (UTC)."""
    assert order.appointment_start is not None
    tz = order.city.timezone
    visit_day = order.appointment_start.astimezone(ZoneInfo(tz)).date()
    wall = policy.parse_hhmm(settings["CUSTOMER_REMINDER_LOCAL_TIME"])
    return policy.at_local(visit_day - timedelta(days=1), wall, tz)


def booking_changed(
    session: Session, order: WorkOrder, version: int, action: str, settings: Mapping[str, Any]
) -> None:
    """Tell the customer of one version of an order's booking (a handler of dispatch.bookings)."""
    if order.booking_version != version:
        return  # a newer version's job tells of the newer booking (and supersedes this one's)
    reason = _WHY.get(action, f"the booking changed ({action})")
    outreach.supersede_pending(
        session, ROBOT, reason=reason, work_order_id=order.id, purposes=PURPOSES, below_version=version
    )
    if action not in _BOOKING_ACTIONS or order.state != OrderState.BOOKED or order.appointment_start is None:
        return
    now = utcnow()
    if order.appointment_start <= now:
        return  # booked after the fact (a visit already begun): nothing to tell ahead of it
    kind = "rescheduled" if action == "reschedule" else "booked"
    _queue(session, order, version, CONFIRMATION, now, {"kind": kind})
    remind_at = reminder_time(order, settings)
    if remind_at > now:
        # Booked after the reminder's time (the day before, or the same day): the confirmation
        # just queued already says the day and time.
        _queue(session, order, version, REMINDER, remind_at, {})


def _queue(
    session: Session, order: WorkOrder, version: int, purpose: str, at: datetime, params: dict[str, Any]
) -> None:
    outreach.queue(
        session,
        ROBOT,
        customer_id=order.customer_id,
        purpose=purpose,
        transactional=True,
        dedupe_key=f"{purpose}:{order.id}:{version}",
        not_before=at,
        work_order_id=order.id,
        unit_id=order.unit_id,
        booking_version=version,
        params=params,
    )


def _still_stands(session: Session, message: CustomerMessage) -> WorkOrder | None:
    order = session.get(WorkOrder, message.work_order_id) if message.work_order_id is not None else None
    if order is None:
        outreach.superseded(message, "the order no longer exists")
        return None
    if order.booking_version != message.booking_version:
        outreach.superseded(message, f"a newer booking (version {order.booking_version}) replaced this one")
        return None
    if order.state != OrderState.BOOKED or order.appointment_start is None:
        outreach.superseded(message, f"the order is {order.state}, no longer booked")
        return None
    if order.appointment_start <= utcnow():
        outreach.superseded(message, "the visit has begun")
        return None
    return order


def compose(session: Session, message: CustomerMessage, language: str) -> str | None:
    """The confirmation or reminder as the booking stands now (None: that booking no longer stands)."""
    order = _still_stands(session, message)
    if order is None:
        return None
    assert order.appointment_start is not None
    tz = order.city.timezone
    end = order.appointment_end or order.appointment_start
    provider = order.provider.name if order.provider is not None else texts.text(language, "our_team")
    values = {
        "provider": provider,
        "day": spoken_day(order.appointment_start, tz, language),
        "start": f"{order.appointment_start.astimezone(ZoneInfo(tz)):%H:%M}",
        "end": f"{end.astimezone(ZoneInfo(tz)):%H:%M}",
    }
    key = "reminder" if message.purpose == REMINDER else str(message.params.get("kind") or "booked")
    return texts.text(language, key, **values)


def reply(session: Session, message: CustomerMessage, words: str) -> str | None:
    """The customer answered a confirmation or reminder: the reply word asks the hotline for another time."""
    language = message.language or "en"
    if not texts.asks_for_change(words):
        return texts.text(language, "not_understood")
    outreach.requests.add(
        session,
        customer_id=message.customer_id,
        kind="reschedule",
        work_order_id=message.work_order_id,
        message_id=message.id,
        words=words.strip(),
    )
    return texts.text(language, "change_taken")


for _purpose in PURPOSES:
    outreach.composers.register(_purpose, compose)
    outreach.replies.register(_purpose, reply)
