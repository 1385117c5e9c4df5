"""Intake: sales reported, pending orders booked or rescheduled, repairs opened."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch import orders
from dispatch.audit import trail
from dispatch.customers import directory
from dispatch.models import (
    City,
    OrderKind,
    OrderState,
    OutboxMessage,
    ProductModel,
    Provider,
    Role,
    Sale,
    SaleChannel,
    Unit,
    WorkOrder,
    utcnow,
)
from dispatch.orders import routing
from dispatch.platform import outbox, personal, phones
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Conflict, Invalid, NotFound
from dispatch.reference.catalogue import Catalogue

MAX_WINDOW = timedelta(hours=24)


@dataclass
class Window:
    """An appointment window; naive times are read in the customer's city's local time."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class SaleReport:
    """A sale as reported by a shop or keyed in by an agent, in plain values."""

    shop: str
    salesperson: str
    sold_at: datetime
    customer: dict[str, str]
    items: list[dict[str, Any]]
    appointment: Window | None = None

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready values (a receipt keeps it like this until it is registered)."""
        window = self.appointment
        return {
            "shop": self.shop,
            "salesperson": self.salesperson,
            "sold_at": self.sold_at.isoformat(),
            "customer": dict(self.customer),
            "items": [dict(item) for item in self.items],
            "appointment": {"start": window.start.isoformat(), "end": window.end.isoformat()}
            if window
            else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SaleReport:
        """The report `to_json` wrote."""
        window = data.get("appointment")
        return cls(
            shop=data["shop"],
            salesperson=data["salesperson"],
            sold_at=datetime.fromisoformat(data["sold_at"]),
            customer=data["customer"],
            items=data["items"],
            appointment=Window(datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"]))
            if window
            else None,
        )


@dataclass(frozen=True)
class CheckedSale:
    """What `check_report` found: the sale time and window in UTC, and the customer's phone."""

    sold_at: datetime
    window: tuple[datetime, datetime] | None
    phone: str


@dataclass
class SaleResult:
    sale: Sale
    customer_created: bool
    units: list[Unit] = field(default_factory=list)
    work_orders: list[WorkOrder] = field(default_factory=list)


def _aware(value: datetime, tz: ZoneInfo) -> datetime:
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def resolve_window(window: Window, timezone: str, path: str, now: datetime) -> tuple[datetime, datetime]:
    """Check a window and return it as aware datetimes (naive ones are local time in `timezone`)."""
    tz = ZoneInfo(timezone)
    start, end = _aware(window.start, tz), _aware(window.end, tz)
    if end <= start:
        raise Invalid.field(f"{path}.end", "must be after start")
    if end - start > MAX_WINDOW:
        raise Invalid.field(f"{path}.end", "a window may not be longer than 24 hours")
    if end <= now:
        raise Invalid.field(f"{path}.start", "is in the past")
    return start.astimezone(UTC), end.astimezone(UTC)


def _kind(delivery: bool, installation: bool) -> OrderKind | None:
    if delivery and installation:
        return OrderKind.DELIVERY_INSTALLATION
    if installation:
        return OrderKind.INSTALLATION
    if delivery:
        return OrderKind.DELIVERY
    return None


def _new_order(
    session: Session,
    actor: Actor,
    *,
    unit: Unit,
    kind: OrderKind,
    window: tuple[datetime, datetime] | None,
    sale_id: int | None = None,
    extra: dict[str, Any] | None = None,
    reminder_hours: int,
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
    orders.transition(
        session,
        order,
        "create",
        orders.resting_state(order),
        actor,
        {
            "kind": kind.value,
            "provider_id": order.provider_id,
            "appointment_start": order.appointment_start,
            "appointment_end": order.appointment_end,
            **audited,
        },
    )
    plan_reminder(session, order, reminder_hours, new=True)
    return order


def plan_reminder(session: Session, order: WorkOrder, reminder_hours: int, *, new: bool = False) -> None:
    """Ask the outbox to push a booked order to its provider ahead of the appointment."""
    if order.state != OrderState.BOOKED or order.appointment_start is None:
        return
    start = order.appointment_start
    # One reminder per booking: numbered, so that moving an appointment away and back to the
    # same time plans a fresh reminder instead of colliding with the first one's key. (A new
    # order has had no booking: no need to count.)
    prefix = f"remind:{order.id}:"
    booking_no = 1
    if not new:
        booking_no += (
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.dedupe_key.startswith(prefix))
            )
            or 0
        )
    outbox.put(
        session,
        "remind_provider",
        {"work_order_id": order.id, "appointment_start": start.isoformat()},
        available_at=max(utcnow(), start - timedelta(hours=reminder_hours)),
        dedupe_key=f"{prefix}{booking_no}:{start.isoformat()}",
    )


def check_report(report: SaleReport, catalogue: Catalogue, *, region: str, now: datetime) -> CheckedSale:
    """Check a sale against the catalogue, without the database; Invalid names the bad field."""
    city = catalogue.cities.get(report.customer["city"])
    if city is None:
        raise Invalid.field("customer.city", f"unknown city {report.customer['city']!r}")
    tz = ZoneInfo(city.timezone)
    sold_at = _aware(report.sold_at, tz).astimezone(UTC)
    if sold_at > now + timedelta(minutes=5):
        raise Invalid.field("sold_at", "is in the future")
    window = (
        resolve_window(report.appointment, city.timezone, "appointment", now) if report.appointment else None
    )
    seen: set[str] = set()
    for i, item in enumerate(report.items):
        model = catalogue.models.get(item["model"])
        if model is None:
            raise Invalid.field(f"items.{i}.model", f"unknown model {item['model']!r}")
        if item.get("product_line") and model.line_code != item["product_line"]:
            raise Invalid.field(
                f"items.{i}.product_line",
                f"model {model.code} belongs to {model.line_code}, not {item['product_line']}",
            )
        serial = item.get("serial_number")
        if serial in seen:
            raise Invalid.field(f"items.{i}.serial_number", "is given for an earlier item too")
        if serial:
            seen.add(serial)
    phone = phones.normalise(report.customer["phone"], city.region or region, field="customer.phone")
    return CheckedSale(sold_at=sold_at, window=window, phone=phone)


def check_serials_free(session: Session, report: SaleReport) -> None:
    """Refuse a sale naming a serial number that is already registered to a unit."""
    serials = [item["serial_number"] for item in report.items if item.get("serial_number")]
    if not serials:
        return
    taken = set(session.scalars(select(Unit.serial_number).where(Unit.serial_number.in_(serials))))
    for i, item in enumerate(report.items):
        if item.get("serial_number") in taken:
            raise Invalid.field(f"items.{i}.serial_number", "is already registered")


def report_sale(
    session: Session,
    actor: Actor,
    report: SaleReport,
    *,
    region: str,
    reminder_hours: int,
    receipt_id: int | None = None,
) -> SaleResult:
    """Register the customer and units of a sale and open a work order per unit needing service."""
    city = session.scalars(select(City).where(City.name == report.customer["city"])).first()
    codes = {item["model"] for item in report.items}
    models = {m.code: m for m in session.scalars(select(ProductModel).where(ProductModel.code.in_(codes)))}
    checked = check_report(
        report, Catalogue.of([city] if city else [], models.values()), region=region, now=utcnow()
    )
    assert city is not None  # check_report refused an unknown city
    check_serials_free(session, report)
    customer = report.customer
    cust, created = directory.find_or_create(
        session,
        name=customer["name"],
        phone=checked.phone,
        address=customer["address"],
        city=city,
        region=region,
        language=customer.get("language"),
    )
    channel = SaleChannel.PHONE if actor.role == Role.AGENT else SaleChannel.WEB
    sale = Sale(
        shop=report.shop,
        salesperson=report.salesperson,
        sold_at=checked.sold_at,
        channel=channel.value,
        reported_by_id=actor.user_id,
        customer_id=cust.id,
    )
    session.add(sale)
    session.flush()
    result = SaleResult(sale=sale, customer_created=created)
    if created:
        trail.record(session, actor, "customer", cust.id, "created", data={"sale_id": sale.id})
    elif customer.get("language") and cust.language != customer["language"]:
        # The shop says this known customer speaks another language than we had.
        trail.record(session, actor, "customer", cust.id, "updated", data={"language": customer["language"]})
        cust.language = customer["language"]
    for i, item in enumerate(report.items):
        model = models[item["model"]]
        unit = Unit(
            customer_id=cust.id,
            product_model_id=model.id,
            product_model=model,
            serial_number=item.get("serial_number"),
            sale_id=sale.id,
            address=customer["address"].strip(),
            city_id=city.id,
            purchased_at=checked.sold_at,
        )
        try:
            with session.begin_nested():  # another sale registering the same serial just now
                session.add(unit)
                session.flush()
        except IntegrityError:
            raise Invalid.field(f"items.{i}.serial_number", "is already registered") from None
        result.units.append(unit)
        kind = _kind(item.get("delivery", False), item.get("installation", False))
        if kind is not None:
            result.work_orders.append(
                _new_order(
                    session,
                    actor,
                    unit=unit,
                    kind=kind,
                    window=checked.window,
                    sale_id=sale.id,
                    reminder_hours=reminder_hours,
                )
            )
    data: dict[str, Any] = {
        "channel": channel.value,
        "customer_id": cust.id,
        "units": [u.id for u in result.units],
        "work_orders": [o.id for o in result.work_orders],
    }
    if receipt_id is not None:
        data["receipt_id"] = receipt_id
    trail.record(session, actor, "sale", sale.id, "reported", data=data)
    return result


def _sales_may_move(session: Session, order: WorkOrder, hours: float) -> bool:
    """Whether shop staff may still move this order of a sale they reported (see `book`)."""
    reported_at = session.scalar(select(Sale.created_at).where(Sale.id == order.sale_id))
    if reported_at is None or utcnow() - reported_at > timedelta(hours=hours):
        return False
    # Once visited (a visit failed, or the order was reopened after a visit the customer
    # contradicted), the order belongs to the provider, the hotline and headquarters.
    return not order.visits and not order.complaints  # type: ignore[attr-defined]


def book(
    session: Session, actor: Actor, order_id: int, window: Window, *, reminder_hours: int, sales_hours: float
) -> WorkOrder:
    """Give an order a time window: book a pending one, or reschedule a booked one.

    Shop staff may move only the orders of a sale they reported themselves, for `sales_hours`
    after reporting it, and only until the first visit; any other order is NotFound to them.
    """
    order = orders.get_order(session, actor, order_id, for_update=True)
    if actor.role == Role.SALES and not _sales_may_move(session, order, sales_hours):
        # The same answer as for an order that does not exist, so that ids cannot be probed.
        raise NotFound(f"work order {order_id} not found")
    start, end = resolve_window(window, order.city.timezone, "window", utcnow())
    before = {"appointment_start": order.appointment_start, "appointment_end": order.appointment_end}
    action = "reschedule" if order.state == OrderState.BOOKED else "book"
    if start != order.appointment_start:
        order.reminded_for = None  # a new time deserves its own reminder
    order.appointment_start, order.appointment_end = start, end
    orders.transition(
        session,
        order,
        action,
        orders.resting_state(order),
        actor,
        {"before": before, "appointment_start": start, "appointment_end": end},
    )
    plan_reminder(session, order, reminder_hours)
    return order


def open_repair(
    session: Session,
    actor: Actor,
    *,
    serial_number: str | None,
    unit_id: int | None,
    fault_category: str,
    fault_description: str,
    appointment: Window | None,
    reminder_hours: int,
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
    if earlier is not None and OrderState(earlier.state) in orders.OPEN_STATES:
        # The customer called again about a fault already being handled: not a second dispatch.
        raise Conflict(
            f"repair work order {earlier.id} for this unit and fault is still open",
            {"fault_category": [f"work order {earlier.id} for this fault is still open"]},
        )
    return _new_order(
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
        reminder_hours=reminder_hours,
        settings=settings,
    )


def assign(
    session: Session, actor: Actor, order_id: int, *, provider_code: str | None, reminder_hours: int
) -> WorkOrder:
    """Give an unassigned order a provider: the one named, or the one coverage now routes to."""
    order = orders.get_order(session, actor, order_id, for_update=True)
    if OrderState(order.state) not in orders.TRANSITIONS["assign"][0]:
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
    orders.transition(
        session, order, "assign", orders.resting_state(order), actor, {"provider_id": provider.id}
    )
    plan_reminder(session, order, reminder_hours)
    return order


def find_units(session: Session, *, serial_number: str) -> list[Unit]:
    """The registered unit with this serial number (a list: empty when none)."""
    return list(session.scalars(select(Unit).where(Unit.serial_number == serial_number.strip())))
