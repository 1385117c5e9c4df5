"""Repairs: a customer calls about a fault of a registered unit; a repeated fault is marked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.models import (
    OrderKind,
    OrderState,
    Unit,
    WorkOrder,
    utcnow,
)
from dispatch.orders.booking import Window, new_order, resolve_window
from dispatch.orders.machine import OPEN_STATES
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Conflict, Invalid

# What a caller's fault is filed under (repeat repairs are matched by unit and category).
FAULT_CATEGORIES = (
    "no_hot_water",
    "leak",
    "ignition",
    "error_code",
    "noise",
    "pressure",
    "electrical",
    "water_quality",
    "other",
)


def open_repair(
    session: Session,
    actor: Actor,
    *,
    serial_number: str | None,
    unit_id: int | None,
    fault_category: str,
    fault_description: str,
    appointment: Window | None,
    settings: Mapping[str, Any] | None = None,
) -> WorkOrder:
    """Open a repair order for a registered unit, routed like any order."""
    if bool(serial_number) == bool(unit_id):
        raise Invalid(
            "give exactly one of serial_number, unit_id",
            {
                "serial_number": ["give exactly one of serial_number, unit_id"],
                "unit_id": ["give exactly one of serial_number, unit_id"],
            },
        )
    if serial_number:
        unit = session.scalars(select(Unit).where(Unit.serial_number == serial_number.strip())).first()
        if unit is None:
            raise Invalid.field("serial_number", "no registered unit has this serial number")
    else:
        unit = session.get(Unit, unit_id)
        if unit is None:
            raise Invalid.field("unit_id", "no such unit")
    window = resolve_window(appointment, unit.city.timezone, "appointment", utcnow()) if appointment else None
    earlier = session.scalars(
        select(WorkOrder)
        .where(
            WorkOrder.unit_id == unit.id,
            WorkOrder.kind == OrderKind.REPAIR,
            WorkOrder.fault_category == fault_category,
            WorkOrder.state != OrderState.CANCELLED,  # never visited: nothing failed to repeat
        )
        .order_by(WorkOrder.id.desc())
        .limit(1)
    ).first()
    if earlier is not None and OrderState(earlier.state) in OPEN_STATES:
        # The customer called again about a fault already being handled: not a second dispatch.
        raise Conflict(
            f"repair work order {earlier.id} for this unit and fault is still open",
            {"fault_category": [f"work order {earlier.id} for this fault is still open"]},
        )
    return new_order(
        session,
        actor,
        unit=unit,
        kind=OrderKind.REPAIR,
        window=window,
        extra={
            "fault_category": fault_category,
            "fault_description": fault_description,
            "repeat_of_id": earlier.id if earlier else None,
        },
        settings=settings,
    )


def find_units(session: Session, *, serial_number: str) -> list[Unit]:
    """The registered unit with this serial number (a list: empty when none)."""
    return list(session.scalars(select(Unit).where(Unit.serial_number == serial_number.strip())))
