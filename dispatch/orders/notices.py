"""Notices pushed to providers: a booked order, ahead of its appointment."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.models import AuditEvent, OrderState, Role, WorkOrder
from dispatch.platform.actors import Actor

log = logging.getLogger(__name__)


def remind_provider(session: Session, work_order_id: int, appointment_start: str) -> bool:
    """Mark the order as pushed to its provider for this appointment; False if stale or done."""
    # FOR UPDATE OF the order alone: PostgreSQL refuses to lock the outer-joined eager loads.
    order = session.scalars(
        select(WorkOrder).where(WorkOrder.id == work_order_id).with_for_update(of=WorkOrder)
    ).first()
    if order is None or order.state != OrderState.BOOKED or order.appointment_start is None:
        return False
    if order.appointment_start != datetime.fromisoformat(appointment_start):
        return False  # rescheduled since: the reminder for the new time is its own job
    if order.reminded_for == order.appointment_start:
        return False  # already done (the job ran twice)
    order.reminded_for = order.appointment_start
    trail.record(
        session,
        Actor.system("reminders"),
        "work_order",
        order.id,
        "provider_reminded",
        data={"provider_id": order.provider_id, "appointment_start": order.appointment_start},
    )
    log.info("reminded provider %s of work order %s", order.provider_id, order.id)
    return True


def reminders_sent(session: Session, actor: Actor, *, limit: int = 50) -> list[tuple[AuditEvent, WorkOrder]]:
    """The reminders pushed for the orders an actor may see (a provider: its own), newest first."""
    query = (
        select(AuditEvent, WorkOrder)
        .join(WorkOrder, WorkOrder.id == AuditEvent.entity_id)
        .where(AuditEvent.entity == "work_order", AuditEvent.action == "provider_reminded")
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
    )
    if actor.role == Role.PROVIDER:
        query = query.where(WorkOrder.provider_id == actor.provider_id)
    return [(event, order) for event, order in session.execute(query).unique()]
