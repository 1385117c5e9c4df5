"""Set-up for the care tests: customers with units bought on given days, visits that count."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from sqlalchemy import select

from dispatch.care import plans
from dispatch.models import (
    City,
    Customer,
    Installer,
    OptOut,
    ProductModel,
    Provider,
    Unit,
    User,
    Visit,
    WorkOrder,
)
from dispatch.platform.actors import Actor

_numbers = itertools.count(1)


def Z(*args: int) -> datetime:
    """A UTC datetime."""
    return datetime(*args, tzinfo=UTC)


def owner(
    session,
    *,
    model: str = "GW-40",
    city: str = "Springfield",
    bought: datetime | None = None,
    name: str | None = None,
    language: str | None = None,
) -> Unit:
    """A new customer owning one unit of `model` in `city`, bought on `bought`."""
    n = next(_numbers)
    city_row = session.scalars(select(City).where(City.name == city)).one()
    customer = Customer(
        name=name or f"Owner {n}",
        phone=f"+1217555{n:04d}",
        address=f"{n} Frost Lane",
        city_id=city_row.id,
        language=language,
    )
    session.add(customer)
    session.flush()
    unit = Unit(
        customer_id=customer.id,
        product_model_id=session.scalars(select(ProductModel.id).where(ProductModel.code == model)).one(),
        address=customer.address,
        city_id=city_row.id,
        purchased_at=bought or Z(2030, 1, 10, 12),
    )
    session.add(unit)
    session.flush()
    return unit


def done_visit(session, unit: Unit, kind: str, visited: datetime, *, plan_id: int | None = None) -> WorkOrder:
    """A closed, completed order of `kind` on the unit, visited at `visited` (written as the past)."""
    provider = session.scalars(select(Provider).where(Provider.code == "SPR-HEAT")).one()
    installer = session.scalars(select(Installer).where(Installer.code == "SH-01")).one()
    user = session.scalars(select(User).where(User.name == "demo-agent")).one()
    line = session.get(ProductModel, unit.product_model_id).product_line_id
    order = WorkOrder(
        kind=kind,
        state="closed_completed",
        unit_id=unit.id,
        customer_id=unit.customer_id,
        city_id=unit.city_id,
        product_line_id=line,
        provider_id=provider.id,
        maintenance_plan_id=plan_id,
        created_by_id=user.id,
    )
    session.add(order)
    session.flush()
    session.add(
        Visit(
            work_order_id=order.id,
            provider_id=provider.id,
            installer_id=installer.id,
            outcome="completed",
            visited_at=visited,
            closed_by_id=user.id,
        )
    )
    session.flush()
    return order


def opt_out(session, unit: Unit) -> None:
    """The unit's owner said STOP."""
    session.add(OptOut(phone=session.get(Customer, unit.customer_id).phone, source="test"))
    session.flush()


def gas_plan(session, **kw):
    """Gas water heaters' tank cleaning, every 12 months (the plans' defaults otherwise)."""
    values = {
        "code": "gas-clean",
        "name": "tank cleaning",
        "product_line": "gas_wh",
        "interval_months": 12,
        **kw,
    }
    return plans.upsert_plan(session, Actor.system("test"), **values)
