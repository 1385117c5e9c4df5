"""Customers: found from any one of name, phone or address; created once, shared everywhere."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, or_, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from dispatch.audit import trail
from dispatch.models import City, Customer, Unit, WorkOrder
from dispatch.platform import phones
from dispatch.platform.errors import Invalid, NotFound

SEARCH_LIMIT = 50
# What people type between the digits of a phone number.
_NOT_DIALLED = re.compile(r"[\s().+\-/]")


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(
    session: Session,
    *,
    region: str,
    phone: str | None = None,
    name: str | None = None,
    address: str | None = None,
    limit: int = SEARCH_LIMIT,
) -> list[Customer]:
    """Customers matching exactly one criterion: phone (in any format, or any 4+ consecutive digits
    of it), name (each word, in any order) or part of an address."""
    given = [k for k, v in (("phone", phone), ("name", name), ("address", address)) if v]
    if len(given) != 1:
        raise Invalid(
            "give exactly one of phone, name, address",
            {k: ["give exactly one of phone, name, address"] for k in ("phone", "name", "address")},
        )
    query = select(Customer)
    if phone:
        bare = _NOT_DIALLED.sub("", phone)
        whole = phones.try_normalise(phone, region)
        if whole is None and bare.isdigit() and len(bare) >= 4:
            query = query.where(Customer.phone.like(f"%{bare}%"))  # part of a number
        else:
            query = query.where(Customer.phone == (whole or phones.normalise(phone, region)))
    elif name:
        if len(name.strip()) < 2:
            raise Invalid.field("name", "give at least 2 characters")
        for word in name.split()[:6]:  # every word, in any order
            query = query.where(func.lower(Customer.name).like(_like(word), escape="\\"))
    else:
        assert address is not None
        if len(address.strip()) < 3:
            raise Invalid.field("address", "give at least 3 characters")
        pattern = _like(address.strip())
        # A UNION of two trigram-indexed lookups: an OR of the two (one side a subquery) makes
        # PostgreSQL scan every customer (measured by scripts/bench: a seq scan at 1,000,000).
        matches = union(
            select(Customer.id).where(func.lower(Customer.address).like(pattern, escape="\\")),
            select(Unit.customer_id).where(func.lower(Unit.address).like(pattern, escape="\\")),
        )
        query = query.where(Customer.id.in_(matches))
    return list(session.scalars(query.order_by(Customer.name, Customer.id).limit(limit)))


def get_card(session: Session, customer_id: int) -> Customer:
    """A customer with units and every work order, loaded for the agent's screen."""
    customer = session.scalars(
        select(Customer)
        .where(Customer.id == customer_id)
        .options(selectinload(Customer.units).selectinload(Unit.work_orders).selectinload(WorkOrder.visits))
    ).first()
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    order_list = [o for unit in customer.units for o in unit.work_orders]
    events = trail.history_of_many(session, "work_order", [o.id for o in order_list])
    for order in order_list:
        order.history = events.get(order.id, [])
    return customer


def find_or_create(
    session: Session,
    *,
    name: str,
    phone: str,
    address: str,
    city: City,
    region: str,
    language: str | None = None,
) -> tuple[Customer, bool]:
    """The customer with this phone number, or a new one (speaking `language`, if given); True when created."""
    e164 = phones.normalise(phone, city.region or region, field="customer.phone")
    customer = session.scalars(select(Customer).where(Customer.phone == e164)).first()
    if customer is not None:
        return customer, False
    customer = Customer(
        name=name.strip(), phone=e164, address=address.strip(), city_id=city.id, language=language or None
    )
    # A savepoint: two sales for the same new customer at once must not both insert.
    try:
        with session.begin_nested():
            session.add(customer)
            session.flush()
    except IntegrityError:  # the unique index on phone: another request created it first
        existing = session.scalars(select(Customer).where(Customer.phone == e164)).first()
        if existing is None:
            raise
        return existing, False
    return customer, True


LOOKUP_LIMIT = 20


@dataclass
class Found:
    """One customer of a forgiving lookup, with enough to tell them apart from namesakes."""

    customer: Customer
    units: int
    latest_state: str | None
    latest_order_id: int | None


def lookup(session: Session, text: str, *, limit: int = LOOKUP_LIMIT) -> list[Found]:
    """Customers for what a hotline agent typed: any 4+ consecutive digits of the phone number,
    or words (any order, any letter case) each found in the name, the address or the city."""
    text = text.strip()
    bare = _NOT_DIALLED.sub("", text)
    query = select(Customer).join(City, Customer.city_id == City.id)
    if bare.isdigit():
        if len(bare) < 4:
            return []
        # E.164 is stored without spaces: the digits typed are a run inside it.
        query = query.where(Customer.phone.like(f"%{bare}%"))
    else:
        words = text.split()
        if len(text) < 2 or not words:
            return []
        for word in words[:6]:
            pattern = _like(word)
            # The cities a word names, looked up first (a handful of rows): an OR reaching into the
            # joined cities table kept PostgreSQL from the trigram indexes on name and address
            # (a scan of every customer: over a second with 1,000,000 stored).
            cities = list(
                session.scalars(select(City.id).where(func.lower(City.name).like(pattern, escape="\\")))
            )
            query = query.where(
                or_(
                    func.lower(Customer.name).like(pattern, escape="\\"),
                    func.lower(Customer.address).like(pattern, escape="\\"),
                    *([Customer.city_id.in_(cities)] if cities else []),
                )
            )
    customers = list(session.scalars(query.order_by(Customer.name, Customer.id).limit(limit)))
    ids = [c.id for c in customers]
    counted = (
        select(Unit.customer_id, func.count()).where(Unit.customer_id.in_(ids)).group_by(Unit.customer_id)
    )
    units = {customer_id: count for customer_id, count in session.execute(counted).tuples()}
    latest: dict[int, tuple[int, str]] = {}
    for customer_id, order_id, state in session.execute(
        select(WorkOrder.customer_id, WorkOrder.id, WorkOrder.state)
        .where(WorkOrder.customer_id.in_(ids))
        .order_by(WorkOrder.id)
    ).tuples():
        latest[customer_id] = (order_id, state)  # ordered by id: the last one wins
    return [
        Found(
            customer=c,
            units=units.get(c.id, 0),
            latest_order_id=latest[c.id][0] if c.id in latest else None,
            latest_state=latest[c.id][1] if c.id in latest else None,
        )
        for c in customers
    ]
