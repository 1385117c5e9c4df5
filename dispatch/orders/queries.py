"""Which work orders a caller may see, lists of them filtered, and one order with its history."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, false, or_, select
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.models import (
    City,
    OrderState,
    Role,
    Sale,
    WorkOrder,
)
from dispatch.platform.actors import Actor
from dispatch.platform.db import paginate
from dispatch.platform.errors import NotFound


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
    order.history = trail.history(session, "work_order", order.id)
    return order


def open_orders(session: Session, actor: Actor, *, limit: int = 200) -> list[WorkOrder]:
    """The open orders (pending or booked) an actor may see, soonest appointment first, undated last."""
    query = (
        visible_orders(actor)
        .where(WorkOrder.state.in_([OrderState.PENDING.value, OrderState.BOOKED.value]))
        .order_by(WorkOrder.appointment_start.is_(None), WorkOrder.appointment_start, WorkOrder.id)
        .limit(limit)
    )
    return list(session.scalars(query).unique())
