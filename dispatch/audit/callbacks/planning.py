"""Planning a verification callback when a visit is reported (its first attempt requested
through the outbox, in the same transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit import scheduling, verdicts
from dispatch.audit.callbacks.common import CS, SYSTEM, _cfg, _channel_for, _record, _request_attempt
from dispatch.models import (
    Callback,
    CallbackPurpose,
    Visit,
    utcnow,
)
from dispatch.platform.errors import NotFound

# Risk of a claim being false, for the human queue's order (higher first).
CLAIM_PRIORITY = {"customer_not_home": 100, "customer_refused": 70, "wrong_address": 70, "status_check": 50}


DEFAULT_NOT_COMPLETED_PRIORITY = 60


COMPLETED_PRIORITY = 20


def _priority(claim: str) -> int:
    if claim == verdicts.COMPLETED:
        return COMPLETED_PRIORITY
    return CLAIM_PRIORITY.get(claim, DEFAULT_NOT_COMPLETED_PRIORITY)


def plan_for_visit(session: Session, visit_id: int, settings: Mapping[str, Any] | None = None) -> Callback:
    """Called in the transaction that closes an order: plan its verification callback (outbox)."""
    settings = _cfg(settings)
    existing = session.scalars(select(Callback).where(Callback.visit_id == visit_id)).first()
    if existing is not None:
        return existing
    visit = session.get(Visit, visit_id)
    if visit is None:
        raise NotFound(f"visit {visit_id} not found")
    order = visit.work_order
    now = utcnow()
    claim = visit.reason or verdicts.COMPLETED
    tz = order.customer.city.timezone
    # A closing answers the day's status check: drop the ones nobody is working on.
    for check in session.scalars(
        select(Callback)
        .where(
            Callback.work_order_id == order.id,
            Callback.purpose == CallbackPurpose.STATUS_CHECK,
            Callback.state.in_([CS.SCHEDULED, CS.HUMAN_QUEUE]),
        )
        .with_for_update(of=Callback)
    ).unique():
        before = check.state
        check.state = CS.CANCELLED.value
        check.resolved_at = now
        _record(session, SYSTEM, check, "cancelled", before, reason=f"order closed (visit {visit.id})")
    return _new_callback(
        session,
        settings,
        now,
        {"visit_id": visit.id},
        work_order_id=order.id,
        visit_id=visit.id,
        purpose=CallbackPurpose.VERIFY_VISIT.value,
        claim=claim,
        claim_at=visit.visited_at,
        provider_id=visit.provider_id,
        installer_id=visit.installer_id,
        phone=order.customer.phone,
        due_at=scheduling.first_call_at(claim, max(now, visit.closed_at or now), tz, settings),
    )


def _new_callback(
    session: Session, settings: Mapping[str, Any], now: datetime, audit: dict[str, Any], **fields: Any
) -> Callback:
    """Create a scheduled callback, request its first attempt through the outbox, audit it."""
    callback = Callback(
        state=CS.SCHEDULED.value,
        priority=_priority(fields["claim"]),
        automated_attempts=0,
        human_attempts=0,
        next_channel=_channel_for(0, settings),
        created_at=now,
        updated_at=now,
        **fields,
    )
    session.add(callback)
    session.flush()
    _request_attempt(session, callback, callback.due_at)
    _record(
        session,
        SYSTEM,
        callback,
        "planned",
        None,
        **audit,
        claim=callback.claim,
        due_at=callback.due_at,
        channel=callback.next_channel,
    )
    return callback
