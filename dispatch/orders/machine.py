"""The work-order lifecycle: one state machine, in one place.

Every change of state goes through `transition`, which checks the move against TRANSITIONS and
appends an audit event in the same transaction. Nothing else assigns `WorkOrder.state`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.models import (
    AuditEvent,
    OrderState,
    WorkOrder,
)
from dispatch.platform import outbox
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Conflict

S = OrderState


OPEN_STATES = frozenset({S.UNASSIGNED, S.PENDING, S.BOOKED})


# action -> (states it may start from, states it may end in). None stands for "not yet created".
TRANSITIONS: dict[str, tuple[frozenset[OrderState | None], frozenset[OrderState]]] = {
    "create": (frozenset({None}), frozenset({S.UNASSIGNED, S.PENDING, S.BOOKED})),
    "assign": (frozenset({S.UNASSIGNED}), frozenset({S.PENDING, S.BOOKED})),
    "book": (
        frozenset({S.UNASSIGNED, S.PENDING, S.CLOSED_NOT_COMPLETED}),
        frozenset({S.UNASSIGNED, S.BOOKED}),
    ),
    "reschedule": (frozenset({S.BOOKED}), frozenset({S.BOOKED})),
    "unbook": (frozenset({S.BOOKED}), frozenset({S.PENDING})),
    "close": (
        frozenset({S.PENDING, S.BOOKED}),
        frozenset({S.CLOSED_COMPLETED, S.CLOSED_NOT_COMPLETED}),
    ),
    "verify": (frozenset({S.CLOSED_COMPLETED}), frozenset({S.VERIFIED})),
    "reopen": (
        frozenset({S.CLOSED_COMPLETED, S.CLOSED_NOT_COMPLETED, S.VERIFIED}),
        frozenset({S.UNASSIGNED, S.PENDING, S.BOOKED}),
    ),
    "cancel": (frozenset({S.UNASSIGNED, S.PENDING, S.BOOKED}), frozenset({S.CANCELLED})),
}


# Every action but "verify" changes what was booked (who, when, whether the visit still stands).
BOOKING_ACTIONS = frozenset(TRANSITIONS) - {"verify"}


def allowed(action: str, from_state: OrderState | None, to_state: OrderState) -> bool:
    """Whether the state machine allows `action` to move an order between these states."""
    sources, targets = TRANSITIONS[action]
    return from_state in sources and to_state in targets


def transition(
    session: Session,
    order: WorkOrder,
    action: str,
    to_state: OrderState,
    actor: Actor,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Move an order to `to_state` by `action`, or raise Conflict; records the audit event (returned)."""
    current = OrderState(order.state) if order.state else None
    if not allowed(action, current, to_state):
        where = current.value if current else "new"
        raise Conflict(f"work order {order.id or ''} cannot {action} from {where}".replace("  ", " "))
    order.state = to_state.value
    if action in BOOKING_ACTIONS:
        order.booking_version = (order.booking_version or 0) + 1
    session.flush()
    if action in BOOKING_ACTIONS:
        # Whoever must hear of the change (the provider, the customer) is told by a job that reads
        # the order again: requested in this transaction, so never lost, and once per version.
        outbox.put(
            session,
            "booking_changed",
            {"work_order_id": order.id, "booking_version": order.booking_version, "action": action},
            dedupe_key=f"booking:{order.id}:{order.booking_version}",
        )
    return trail.record(
        session,
        actor,
        "work_order",
        order.id,
        action,
        from_state=current.value if current else None,
        to_state=to_state.value,
        data=data,
    )


def resting_state(order: WorkOrder) -> OrderState:
    """Where an open order sits: no provider, no date yet, or booked."""
    if order.provider_id is None:
        return S.UNASSIGNED
    return S.BOOKED if order.appointment_start else S.PENDING
