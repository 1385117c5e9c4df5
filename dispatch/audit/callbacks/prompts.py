"""What the robot or the text asks on an attempt, in the customer's language and local time, and
which open text an inbound SMS answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session, aliased

from dispatch.audit import scheduling
from dispatch.audit.callbacks.common import OPEN
from dispatch.models import (
    Callback,
    Channel,
    City,
    ContactAttempt,
    Customer,
    Provider,
    WorkOrder,
)


@dataclass(frozen=True)
class Prompt:
    """What the robot (or the SMS) asks, worded from the provider's claim, in local time."""

    callback_id: int
    claim: str  # "completed" or a NotCompletedReason value, or "status_check"
    provider_name: str
    visit_day: str  # e.g. "Tuesday 24 November", in the customer's city's time
    customer_first_name: str
    attempt_id: int | None = None
    channel: str | None = None
    language: str = "en"  # the customer's (their own, else their city's): what is said and understood
    is_open: bool = True  # False: the callback has its verdict (or was cancelled); nothing to ask


_CALLBACK_PROVIDER = aliased(Provider)


_ORDER_PROVIDER = aliased(Provider)


# One query for what the robot says on an attempt (and the number it calls): the voice webhook
# and every key press ask it, so it reads the few columns it needs instead of loading the callback
# and its order's graph.
_ATTEMPT_PROMPT = (
    select(
        ContactAttempt.id,
        ContactAttempt.channel,
        ContactAttempt.to_number,
        Callback.id.label("callback_id"),
        Callback.state,
        Callback.claim,
        Callback.claim_at,
        func.coalesce(_CALLBACK_PROVIDER.name, _ORDER_PROVIDER.name).label("provider_name"),
        Customer.name.label("customer_name"),
        func.coalesce(Customer.language, City.language).label("language"),
        City.timezone,
    )
    .join(Callback, Callback.id == ContactAttempt.callback_id)
    .join(WorkOrder, WorkOrder.id == Callback.work_order_id)
    .join(Customer, Customer.id == WorkOrder.customer_id)
    .join(City, City.id == Customer.city_id)
    .outerjoin(_CALLBACK_PROVIDER, _CALLBACK_PROVIDER.id == Callback.provider_id)
    .outerjoin(_ORDER_PROVIDER, _ORDER_PROVIDER.id == WorkOrder.provider_id)
)


def _prompt_of(row: Row[Any]) -> Prompt:
    """The Prompt of a row of _ATTEMPT_PROMPT."""
    return Prompt(
        callback_id=row.callback_id,
        claim=row.claim,
        provider_name=row.provider_name or "our service partner",
        visit_day=scheduling.spoken_day(row.claim_at, row.timezone, row.language),
        customer_first_name=(row.customer_name.split() or [""])[0],
        attempt_id=row.id,
        channel=row.channel,
        language=row.language,
        is_open=row.state in OPEN,
    )


def prompt_for_attempt(session: Session, provider_sid: str, *, include_closed: bool = False) -> Prompt | None:
    """What to ask on this call or text (None if unknown, or no longer open unless include_closed)."""
    row = session.execute(_ATTEMPT_PROMPT.where(ContactAttempt.provider_sid == provider_sid)).first()
    if row is None or (row.state not in OPEN and not include_closed):
        return None
    return _prompt_of(row)


def sms_reply_target(session: Session, phone_e164: str) -> Prompt | None:
    """The latest text to this number whose callback still waits for an answer (for an inbound SMS)."""
    row = session.execute(
        _ATTEMPT_PROMPT.where(
            ContactAttempt.channel == Channel.SMS,
            ContactAttempt.to_number == phone_e164,
            ContactAttempt.provider_sid.is_not(None),
            ContactAttempt.status.not_in(["failed", "opted_out"]),
            Callback.state.in_(list(OPEN)),
        )
        .order_by(ContactAttempt.started_at.desc(), ContactAttempt.id.desc())
        .limit(1)
    ).first()
    return _prompt_of(row) if row else None
