"""What a verdict does: a confirmed completion verifies the order; a contradiction opens a complaint
and reopens the order; a rescheduling reopens it; unreachable changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit import complaints, scheduling, verdicts
from dispatch.audit.callbacks.common import _tz
from dispatch.models import (
    Callback,
    CallbackPurpose,
    OrderState,
    Verdict,
    WorkOrder,
)
from dispatch.orders import machine
from dispatch.platform.actors import Actor


def _apply(
    session: Session,
    callback: Callback,
    verdict: Verdict,
    actor: Actor,
    now: datetime,
    settings: Mapping[str, Any],
) -> WorkOrder:
    """What a verdict does to the order, the provider and the complaints; returns the order
    (locked FOR UPDATE for the rest of the transaction)."""
    order = (
        session.scalars(
            select(WorkOrder)
            .where(WorkOrder.id == callback.work_order_id)
            .with_for_update(of=WorkOrder)
            .execution_options(populate_existing=True)
        )
        .unique()
        .one()
    )
    state = OrderState(order.state)
    data = {"callback_id": callback.id, "verdict": verdict.value}
    if verdict == Verdict.CONFIRMED:
        if callback.purpose == CallbackPurpose.VERIFY_VISIT and state == OrderState.CLOSED_COMPLETED:
            machine.transition(session, order, "verify", OrderState.VERIFIED, actor, data)
    elif verdict == Verdict.CONTRADICTED:
        summary = f"{_claim_text(callback)}; the customer says: {callback.answer_happened}"
        complaint = complaints.open_for_callback(
            session, callback, actor, settings, summary=summary, note=callback.answer_note, now=now
        )
        if state in machine.TRANSITIONS["reopen"][0]:
            machine.transition(
                session,
                order,
                "reopen",
                machine.resting_state(order),
                actor,
                {**data, "complaint_id": complaint.id},
            )
    elif verdict == Verdict.CUSTOMER_RESCHEDULED:
        # The customer still wants the service: the order goes back to the open work.
        if state in machine.TRANSITIONS["reopen"][0]:
            machine.transition(session, order, "reopen", machine.resting_state(order), actor, data)
    return order


def _claim_text(callback: Callback) -> str:
    provider = callback.provider.code if callback.provider else "the provider"
    day = scheduling.spoken_day(callback.claim_at, _tz(callback))
    if callback.claim == verdicts.STATUS_CHECK:
        return f"order booked for {day} left open by {provider}"
    return f"{provider} claimed '{callback.claim}' on {day}"
