"""Maintenance plans per product line, managed by supervisors; every change audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.models import MaintenancePlan, ProductLine
from dispatch.platform import languages
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Invalid


def upsert_plan(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    product_line: str,
    interval_months: int,
    window_days: int = 30,
    invite_days: int = 21,
    names: dict[str, str] | None = None,
    active: bool = True,
) -> MaintenancePlan:
    """Create or update the plan with this code; a 422 names the bad field."""
    line = session.scalars(select(ProductLine).where(ProductLine.code == product_line)).first()
    if line is None:
        raise Invalid.field("product_line", f"unknown product line {product_line!r}")
    if not 1 <= interval_months <= 240:
        raise Invalid.field("interval_months", "must be between 1 and 240")
    for field, value in (("window_days", window_days), ("invite_days", invite_days)):
        if not 0 <= value <= 365:
            raise Invalid.field(field, "must be between 0 and 365")
    for language in names or {}:
        languages.check(language, f"names.{language}")
    plan = session.scalars(select(MaintenancePlan).where(MaintenancePlan.code == code)).first()
    new = plan is None
    plan = plan or MaintenancePlan(code=code)
    values: dict[str, Any] = {
        "name": name,
        "names": dict(names or {}),
        "product_line_id": line.id,
        "interval_months": interval_months,
        "window_days": window_days,
        "invite_days": invite_days,
        "active": active,
    }
    changed = {k: v for k, v in values.items() if getattr(plan, k, None) != v}
    for key, value in changed.items():
        setattr(plan, key, value)
    if new:
        session.add(plan)
    session.flush()
    if new or changed:
        trail.record(
            session, actor, "maintenance_plan", plan.id, "created" if new else "updated", data=changed
        )
    return plan


def list_plans(session: Session) -> list[MaintenancePlan]:
    """Every plan, in the order they were created."""
    return list(session.scalars(select(MaintenancePlan).order_by(MaintenancePlan.id)))
