"""The work-order lifecycle: one state machine, in one place.

Every change of state goes through `transition`, which checks the move against TRANSITIONS and
appends an audit event in the same transaction. Nothing else assigns `WorkOrder.state`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, false, or_, select
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.models import (
    City,
    Installer,
    NotCompletedReason,
    OrderState,
    Outcome,
    Role,
    Sale,
    Visit,
    WorkOrder,
    utcnow,
)
from dispatch.platform import personal
from dispatch.platform.actors import Actor
from dispatch.platform.db import paginate
from dispatch.platform.errors import Conflict, Invalid, NotFound

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
) -> None:
    """Move an order to `to_state` by `action`, or raise Conflict; records the audit event."""
    current = OrderState(order.state) if order.state else None
    if not allowed(action, current, to_state):
        where = current.value if current else "new"
        raise Conflict(f"work order {order.id or ''} cannot {action} from {where}".replace("  ", " "))
    order.state = to_state.value
    session.flush()
    trail.record(
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


# --- queries ----------------------------------------------------------------------------------


def visible_orders(actor: Actor) -> Select[tuple[WorkOrder]]:
    """The orders an actor may see: a provider its own, shop staff its own sales', headquarters all."""
    query = select(WorkOrder)
    if actor.role == Role.PROVIDER:
        query = query.where(WorkOrder.provider_id == actor.provider_id)
    elif actor.role == Role.SALES:
        query = query.where(
            WorkOrder.sale_id.in_(select(Sale.id).where(Sale.reported_by_id == actor.user_id))
        )
    return query


def get_order(session: Session, actor: Actor, order_id: int, *, for_update: bool = False) -> WorkOrder:
    """One order the actor may see, or NotFound (also for another provider's order)."""
    query = visible_orders(actor).where(WorkOrder.id == order_id)
    if for_update:
        query = query.with_for_update(of=WorkOrder)
    order = session.scalars(query).unique().first()
    if order is None:
        raise NotFound(f"work order {order_id} not found")
    return order


@dataclass(frozen=True)
class OrderFilter:
    state: str | None = None
    kind: str | None = None
    city: str | None = None
    provider_id: int | None = None
    customer_id: int | None = None
    # A date is a whole day, and a datetime without an offset a wall-clock time, in each
    # order's city (what a provider means by "my jobs on the 15th"); an aware datetime is exact.
    date_from: date | datetime | None = None
    date_to: date | datetime | None = None


def _starts(
    session: Session, compare: Callable[[Any, datetime], ColumnElement[bool]], bound: date | datetime
) -> ColumnElement[bool]:
    """`appointment_start <compare> bound`, with a date or naive bound read in each city's zone."""
    if isinstance(bound, datetime) and bound.tzinfo is not None:
        return compare(WorkOrder.appointment_start, bound)
    wall = bound if isinstance(bound, datetime) else datetime.combine(bound, time())
    # One clause per distinct time zone (a handful), not per city (hundreds).
    clauses = [
        and_(
            WorkOrder.city_id.in_(select(City.id).where(City.timezone == zone)),
            compare(WorkOrder.appointment_start, wall.replace(tzinfo=ZoneInfo(zone))),
        )
        for zone in session.scalars(select(City.timezone).distinct())
    ]
    return or_(*clauses) if clauses else false()


def list_orders(
    session: Session, actor: Actor, flt: OrderFilter, *, page: int, per_page: int
) -> tuple[list[WorkOrder], int]:
    """A page of the orders the actor may see, filtered; with the total count."""
    query = visible_orders(actor)
    if flt.state:
        query = query.where(WorkOrder.state == flt.state)
    if flt.kind:
        query = query.where(WorkOrder.kind == flt.kind)
    if flt.city:
        query = query.where(WorkOrder.city_id.in_(select(City.id).where(City.name == flt.city)))
    if flt.provider_id:
        query = query.where(WorkOrder.provider_id == flt.provider_id)
    if flt.customer_id:
        query = query.where(WorkOrder.customer_id == flt.customer_id)
    if flt.date_from:
        query = query.where(_starts(session, operator.ge, flt.date_from))
    if flt.date_to:
        date_to = flt.date_to
        if not isinstance(date_to, datetime):
            date_to = date_to + timedelta(days=1)  # a date_to day is included whole
        query = query.where(_starts(session, operator.lt, date_to))
    order_by = (WorkOrder.appointment_start.is_(None), WorkOrder.appointment_start, WorkOrder.id)
    return paginate(session, query, order_by, page, per_page)


def order_detail(session: Session, actor: Actor, order_id: int) -> WorkOrder:
    """One order with its visits and its full history (as `history`)."""
    order = get_order(session, actor, order_id)
    order.history = trail.history(session, "work_order", order.id)  # type: ignore[attr-defined]
    return order


# --- closing ----------------------------------------------------------------------------------


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
    from dispatch.audit import callbacks  # here: the callbacks domain itself builds on this module

    callbacks.plan_for_visit(session, visit.id, settings)
    return visit


def cancel_order(
    session: Session,
    actor: Actor,
    order_id: int,
    *,
    reason: str,
    settings: Mapping[str, Any] | None = None,
) -> WorkOrder:
    """Cancel an open order (the customer withdrew, the sale was returned); 409 if not open."""
    order = get_order(session, actor, order_id, for_update=True)
    if OrderState(order.state) not in TRANSITIONS["cancel"][0]:
        raise Conflict(f"work order {order.id} is {order.state}; only an open order can be cancelled")
    order.cancel_reason = reason  # free text: on the row (erasable), its digest in the trail
    transition(
        session,
        order,
        "cancel",
        S.CANCELLED,
        actor,
        {"reason_digest": personal.text_digest(reason, settings)},
    )
    return order
