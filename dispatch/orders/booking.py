"""Opening a work order (routed), booking, rescheduling, assigning and cancelling it. Each change
is told to the provider by `notices/` (through `bookings.py`, once per booking version)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit import scorecards
from dispatch.models import (
    OrderKind,
    OrderState,
    Provider,
    Role,
    Sale,
    Unit,
    WorkOrder,
    utcnow,
)
from dispatch.orders import routing
from dispatch.orders.machine import TRANSITIONS, S, resting_state, transition
from dispatch.orders.queries import get_order
from dispatch.platform import personal
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Conflict, Invalid, NotFound


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


MAX_WINDOW = timedelta(hours=24)


@dataclass
class Window:
    """An appointment window; naive times are read in the customer's city's local time."""

    start: datetime
    end: datetime


def aware(value: datetime, tz: ZoneInfo) -> datetime:
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def resolve_window(window: Window, timezone: str, path: str, now: datetime) -> tuple[datetime, datetime]:
    """Check a window and return it as aware datetimes (naive ones are local time in `timezone`)."""
    tz = ZoneInfo(timezone)
    start, end = aware(window.start, tz), aware(window.end, tz)
    if end <= start:
        raise Invalid.field(f"{path}.end", "must be after start")
    if end - start > MAX_WINDOW:
        raise Invalid.field(f"{path}.end", "a window may not be longer than 24 hours")
    if end <= now:
        raise Invalid.field(f"{path}.start", "is in the past")
    return start.astimezone(UTC), end.astimezone(UTC)


def new_order(
    session: Session,
    actor: Actor,
    *,
    unit: Unit,
    kind: OrderKind,
    window: tuple[datetime, datetime] | None,
    sale_id: int | None = None,
    extra: dict[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> WorkOrder:
    provider = routing.find_provider(session, unit.city_id, unit.product_model.product_line_id)
    order = WorkOrder(
        kind=kind.value,
        unit_id=unit.id,
        customer_id=unit.customer_id,
        city_id=unit.city_id,
        product_line_id=unit.product_model.product_line_id,
        provider_id=provider.id if provider else None,
        sale_id=sale_id,
        appointment_start=window[0] if window else None,
        appointment_end=window[1] if window else None,
        created_by_id=actor.user_id,
        **(extra or {}),
    )
    session.add(order)
    audited = dict(extra or {})
    if "fault_description" in audited:
        # The customer's words: on the order (erasable), only their keyed digest in the trail.
        audited["fault_description_digest"] = personal.text_digest(audited.pop("fault_description"), settings)
    event = transition(
        session,
        order,
        "create",
        resting_state(order),
        actor,
        {
            "kind": kind.value,
            "provider_id": order.provider_id,
            "appointment_start": order.appointment_start,
            "appointment_end": order.appointment_end,
            **audited,
        },
    )
    # Routed to a provider: dispatched, counted on the provider's scorecard at the event's time.
    scorecards.count_dispatch(session, order, event.occurred_at)
    return order


def _sales_may_move(session: Session, order: WorkOrder, hours: float) -> bool:
    """Whether shop staff may still move this order of a sale they reported (see `book`)."""
    reported_at = session.scalar(select(Sale.created_at).where(Sale.id == order.sale_id))
    if reported_at is None or utcnow() - reported_at > timedelta(hours=hours):
        return False
    # Once visited (a visit failed, or the order was reopened after a visit the customer
    # contradicted), the order belongs to the provider, the hotline and headquarters.
    return not order.visits and not order.complaints


def book(session: Session, actor: Actor, order_id: int, window: Window, *, sales_hours: float) -> WorkOrder:
    """Give an order a time window: book a pending one, or reschedule a booked one.

    Shop staff may move only the orders of a sale they reported themselves, for `sales_hours`
    after reporting it, and only until the first visit; any other order is NotFound to them.
    """
    order = get_order(session, actor, order_id, for_update=True)
    if actor.role == Role.SALES and not _sales_may_move(session, order, sales_hours):
        # The same answer as for an order that does not exist, so that ids cannot be probed.
        raise NotFound(f"work order {order_id} not found")
    start, end = resolve_window(window, order.city.timezone, "window", utcnow())
    before = {"appointment_start": order.appointment_start, "appointment_end": order.appointment_end}
    action = "reschedule" if order.state == OrderState.BOOKED else "book"
    order.appointment_start, order.appointment_end = start, end
    transition(
        session,
        order,
        action,
        resting_state(order),
        actor,
        {"before": before, "appointment_start": start, "appointment_end": end},
    )
    return order


def assign(session: Session, actor: Actor, order_id: int, *, provider_code: str | None) -> WorkOrder:
    """Give an unassigned order a provider: the one named, or the one coverage now routes to."""
    order = get_order(session, actor, order_id, for_update=True)
    if OrderState(order.state) not in TRANSITIONS["assign"][0]:
        raise Conflict(f"work order {order.id} is {order.state}; only an unassigned order can be assigned")
    if provider_code:
        provider = session.scalars(select(Provider).where(Provider.code == provider_code)).first()
        if provider is None or not provider.active:
            raise Invalid.field("provider", f"no active provider {provider_code!r}")
    else:
        provider = routing.find_provider(session, order.city_id, order.product_line_id)
        if provider is None:
            raise Invalid.field("provider", "no active provider covers this city and product line; name one")
    order.provider_id = provider.id
    order.provider = provider
    event = transition(session, order, "assign", resting_state(order), actor, {"provider_id": provider.id})
    scorecards.count_dispatch(session, order, event.occurred_at)
    return order
