"""A provider's report of a visit closes its work order, and plans the verification callback that
checks the claim with the customer, in the same transaction.

This use case sits above both the work orders and the callbacks: orders never import the
callbacks, and the callbacks move orders only through dispatch.orders.machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dispatch.audit import callbacks, scorecards
from dispatch.models import (
    Installer,
    NotCompletedReason,
    OrderState,
    Outcome,
    Visit,
    utcnow,
)
from dispatch.orders.machine import TRANSITIONS, S, transition
from dispatch.orders.queries import get_order
from dispatch.platform import personal
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Conflict, Invalid


def close_order(
    session: Session,
    actor: Actor,
    order_id: int,
    *,
    outcome: str,
    reason: str | None,
    installer_id: int,
    visited_at: datetime,
    note: str | None,
    settings: Mapping[str, Any] | None = None,
) -> Visit:
    """A provider reports a visit: completed, or not completed with a reason; plans its callback."""
    order = get_order(session, actor, order_id, for_update=True)
    # State first: a second close is a 409 whatever else the retry got wrong.
    if OrderState(order.state) not in TRANSITIONS["close"][0]:
        raise Conflict(f"work order {order.id} is {order.state}; only an open order can be closed")
    if outcome == Outcome.COMPLETED and reason is not None:
        raise Invalid.field("reason", "must be empty when the outcome is completed")
    if outcome == Outcome.NOT_COMPLETED:
        if reason is None:
            raise Invalid.field("reason", "is required when the outcome is not_completed")
        if reason not in NotCompletedReason.__members__.values():
            raise Invalid.field("reason", f"unknown reason {reason!r}")
    installer = session.get(Installer, installer_id)
    if installer is None or installer.provider_id != order.provider_id or not installer.active:
        raise Invalid.field("installer_id", "is not an active installer of this order's provider")
    if visited_at > utcnow():
        raise Invalid.field("visited_at", "is in the future")
    visit = Visit(
        work_order_id=order.id,
        provider_id=order.provider_id,
        installer_id=installer.id,
        outcome=outcome,
        reason=reason,
        visited_at=visited_at,
        note=note,
        closed_by_id=actor.user_id,
    )
    order.visits.append(visit)
    session.flush()
    target = S.CLOSED_COMPLETED if outcome == Outcome.COMPLETED else S.CLOSED_NOT_COMPLETED
    transition(
        session,
        order,
        "close",
        target,
        actor,
        {
            "visit_id": visit.id,
            "outcome": outcome,
            "reason": reason,
            "installer_id": installer.id,
            "visited_at": visited_at,
            # Free text may quote the customer: it stays on the visit (erasable), the trail keeps
            # its keyed digest only (dispatch.platform.personal).
            "note_digest": personal.text_digest(note, settings),
        },
    )
    # Every closing is checked with the customer; the callback and its job request commit with it.
    callbacks.plan_for_visit(session, visit.id, settings)
    # ... and counted on the scorecards (closed, first-visit completion, not-home claims).
    scorecards.count_closing(session, visit, order)
    return visit
