"""A customer's contact history: every message queued, sent, held, skipped, capped or superseded,
with its reason, in the customer's local time; and refusals and consents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.models import ContactEvent, Customer, CustomerMessage
from dispatch.platform.errors import NotFound


@dataclass(frozen=True)
class HistoryLine:
    """One line of the history, with its time in UTC and on the customer's wall clock."""

    id: int
    at: datetime
    local_at: datetime
    kind: str
    channel: str
    reason: str | None
    message_id: int | None
    purpose: str | None
    work_order_id: int | None
    status: str | None  # the message's status now
    body: str | None  # the text as sent (composed at send time)


def contact_history(session: Session, customer_id: int, limit: int = 200) -> list[HistoryLine]:
    """The newest `limit` lines of a customer's contact history, newest first."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    zone = ZoneInfo(customer.city.timezone)
    rows = session.execute(
        select(ContactEvent, CustomerMessage)
        .outerjoin(CustomerMessage, CustomerMessage.id == ContactEvent.message_id)
        .where(ContactEvent.customer_id == customer_id)
        .order_by(ContactEvent.at.desc(), ContactEvent.id.desc())
        .limit(limit)
    ).all()
    return [
        HistoryLine(
            id=ev.id,
            at=ev.at,
            local_at=ev.at.astimezone(zone),
            kind=ev.kind,
            channel=ev.channel,
            reason=ev.reason,
            message_id=ev.message_id,
            purpose=msg.purpose if msg is not None else None,
            work_order_id=msg.work_order_id if msg is not None else None,
            status=msg.status if msg is not None else None,
            body=msg.body if msg is not None and ev.kind == "sent" else None,
        )
        for ev, msg in rows
    ]
