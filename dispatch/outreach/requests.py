"""Requests for a person (the hotline's queue): a customer's reply asking for another time, a text
that may or may not have gone out. Listed oldest first; done once, by whom, with a note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.models import PersonRequest, WorkOrder, utcnow
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Conflict, NotFound


@dataclass(frozen=True)
class OpenRequest:
    """One request the hotline works, with what it needs to call the customer back."""

    id: int
    kind: str
    words: str | None
    created_at: datetime
    customer_id: int
    customer_name: str
    phone: str
    work_order_id: int | None
    appointment_start: datetime | None  # the booked time now, local to the order's city
    appointment_end: datetime | None
    done_at: datetime | None
    timezone: str  # the order's city (else the customer's): the times to show


def _local(value: datetime | None, tz: str) -> datetime | None:
    return value.astimezone(ZoneInfo(tz)) if value is not None else None


def _view(row: PersonRequest, order: WorkOrder | None) -> OpenRequest:
    tz = order.city.timezone if order is not None else row.customer.city.timezone
    return OpenRequest(
        id=row.id,
        kind=row.kind,
        words=row.words,
        created_at=row.created_at,
        customer_id=row.customer_id,
        customer_name=row.customer.name,
        phone=row.customer.phone,
        work_order_id=row.work_order_id,
        appointment_start=_local(order.appointment_start, tz) if order is not None else None,
        appointment_end=_local(order.appointment_end, tz) if order is not None else None,
        done_at=row.done_at,
        timezone=tz,
    )


def open_requests(session: Session, limit: int = 200) -> list[OpenRequest]:
    """The requests not yet done, oldest first."""
    rows = session.execute(
        select(PersonRequest, WorkOrder)
        .outerjoin(WorkOrder, WorkOrder.id == PersonRequest.work_order_id)
        .where(PersonRequest.done_at.is_(None))
        .order_by(PersonRequest.created_at, PersonRequest.id)
        .limit(limit)
    ).all()
    return [_view(row, order) for row, order in rows]


def add(
    session: Session,
    *,
    customer_id: int,
    kind: str,
    work_order_id: int | None = None,
    message_id: int | None = None,
    words: str | None = None,
) -> PersonRequest:
    """Put a request in the hotline's queue."""
    row = PersonRequest(
        customer_id=customer_id,
        kind=kind[:24],
        work_order_id=work_order_id,
        message_id=message_id,
        words=(words or "")[:320] or None,
    )
    session.add(row)
    session.flush()
    return row


def close_checks(session: Session, message_id: int, note: str) -> int:
    """The open "check_text" requests of a message that turned out sent: done, by the system."""
    rows = list(
        session.scalars(
            select(PersonRequest).where(
                PersonRequest.message_id == message_id,
                PersonRequest.kind == "check_text",
                PersonRequest.done_at.is_(None),
            )
        )
    )
    for row in rows:
        row.done_at = utcnow()
        row.done_note = note[:300]
    session.flush()
    return len(rows)


def mark_done(session: Session, actor: Actor, request_id: int, note: str | None = None) -> OpenRequest:
    """A person dealt with the request (once: a second time is a conflict)."""
    row = session.get(PersonRequest, request_id, with_for_update={"of": PersonRequest})
    if row is None:
        raise NotFound(f"request {request_id} not found")
    if row.done_at is not None:
        raise Conflict(f"request {request_id} is already done")
    row.done_at = utcnow()
    row.done_by_id = actor.user_id
    row.done_note = (note or "")[:300] or None
    session.flush()
    trail.record(
        session,
        actor,
        "person_request",
        row.id,
        "done",
        data={"kind": row.kind, "customer_id": row.customer_id, "work_order_id": row.work_order_id},
    )
    order = session.get(WorkOrder, row.work_order_id) if row.work_order_id is not None else None
    return _view(row, order)
