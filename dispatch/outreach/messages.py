"""Queueing a message to a customer (once per dedupe key), and superseding what no longer applies."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.models import ContactEvent, ContactEventKind, CustomerMessage, MessageStatus, utcnow
from dispatch.platform import outbox
from dispatch.platform.actors import Actor

JOB = "send_customer_message"
OPEN_STATUSES = (MessageStatus.PENDING.value, MessageStatus.HELD.value)


def event(
    session: Session, message: CustomerMessage, kind: ContactEventKind, reason: str | None, at: datetime
) -> None:
    """One line of the customer's contact history about `message`."""
    session.add(
        ContactEvent(
            customer_id=message.customer_id,
            message_id=message.id,
            kind=kind.value,
            channel="sms",
            reason=(reason or "")[:300] or None,
            at=at,
        )
    )


def request_send(session: Session, message: CustomerMessage, at: datetime) -> None:
    """Request the send job for `at` through the outbox (a new key per request: the old ones are done)."""
    message.requests += 1
    message.due_at = at
    outbox.put(
        session,
        JOB,
        {"message_id": message.id},
        available_at=at,
        dedupe_key=f"message:{message.id}:{message.requests}",
    )


def queue(
    session: Session,
    actor: Actor,
    *,
    customer_id: int,
    purpose: str,
    transactional: bool,
    dedupe_key: str,
    not_before: datetime | None = None,
    work_order_id: int | None = None,
    unit_id: int | None = None,
    booking_version: int | None = None,
    params: dict[str, Any] | None = None,
) -> CustomerMessage | None:
    """Queue one text to a customer, sent at `not_before` (now) under the contact policy.

    None when a message with this dedupe key exists (whatever became of it): never twice. The send
    job is requested through the outbox in the caller's transaction; the text is composed when it
    is sent, by the composer registered for `purpose`.
    """
    now = utcnow()
    due = not_before or now
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    row = session.execute(
        insert(CustomerMessage)
        .values(
            customer_id=customer_id,
            work_order_id=work_order_id,
            unit_id=unit_id,
            purpose=purpose[:40],
            transactional=transactional,
            dedupe_key=dedupe_key[:200],
            booking_version=booking_version,
            params=params or {},
            status=MessageStatus.PENDING.value,
            not_before=due,
            due_at=due,
            requests=0,
            awaits_reply=False,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(CustomerMessage.id)
    ).first()
    if row is None:
        return None
    message = session.get(CustomerMessage, row.id)
    assert message is not None
    request_send(session, message, due)
    local = due.astimezone(ZoneInfo(message.customer.city.timezone))
    event(session, message, ContactEventKind.QUEUED, f"due {local:%Y-%m-%d %H:%M} local", now)
    session.flush()
    trail.record(
        session,
        actor,
        "customer_message",
        message.id,
        "queued",
        to_state=message.status,
        data={"customer_id": customer_id, "purpose": purpose, "work_order_id": work_order_id},
    )
    return message


def finish(
    session: Session,
    actor: Actor,
    message: CustomerMessage,
    status: MessageStatus,
    reason: str | None,
    at: datetime,
) -> None:
    """Move a message to a final status, in its history (with the reason) and the audit trail."""
    before = message.status
    message.status = status.value
    message.reason = (reason or message.reason or "")[:300] or None
    event(session, message, ContactEventKind(status.value), message.reason, at)
    session.flush()
    trail.record(
        session,
        actor,
        "customer_message",
        message.id,
        status.value,
        from_state=before,
        to_state=message.status,
        data={"customer_id": message.customer_id, "purpose": message.purpose, "reason": message.reason},
    )


def supersede_pending(
    session: Session,
    actor: Actor,
    *,
    reason: str,
    work_order_id: int | None = None,
    customer_id: int | None = None,
    purposes: Iterable[str] | None = None,
    below_version: int | None = None,
) -> int:
    """Supersede the not-yet-sent messages that match (of an order, of purposes, for older booking
    versions); returns how many. Their send jobs then find nothing to do."""
    query = select(CustomerMessage).where(CustomerMessage.status.in_(OPEN_STATUSES))
    if work_order_id is not None:
        query = query.where(CustomerMessage.work_order_id == work_order_id)
    if customer_id is not None:
        query = query.where(CustomerMessage.customer_id == customer_id)
    if purposes is not None:
        query = query.where(CustomerMessage.purpose.in_(list(purposes)))
    if below_version is not None:
        query = query.where(CustomerMessage.booking_version < below_version)
    now = utcnow()
    count = 0
    for message in session.scalars(query.order_by(CustomerMessage.id).with_for_update(of=CustomerMessage)):
        finish(session, actor, message, MessageStatus.SUPERSEDED, reason, now)
        count += 1
    return count
