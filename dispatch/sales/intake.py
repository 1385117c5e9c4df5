"""Sales reported by a shop or keyed in by an agent: checked, then the customer, units and work
orders registered."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.customers import directory
from dispatch.models import (
    OrderKind,
    ProductModel,
    Role,
    Sale,
    SaleChannel,
    Unit,
    WorkOrder,
    utcnow,
)
from dispatch.orders.booking import Window, aware, new_order, resolve_window
from dispatch.platform import phones
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Invalid
from dispatch.reference.catalogue import Catalogue, find_city


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


def _kind(delivery: bool, installation: bool) -> OrderKind | None:
    if delivery and installation:
        return OrderKind.DELIVERY_INSTALLATION
    if installation:
        return OrderKind.INSTALLATION
    if delivery:
        return OrderKind.DELIVERY
    return None


def unknown_city(name: str) -> str:
    """The message for a city that is not in the reference list, saying where the list is."""
    return f"unknown city {name!r}: the known cities are listed by GET /api/v1/cities"


def check_report(report: SaleReport, catalogue: Catalogue, *, region: str, now: datetime) -> CheckedSale:
    """Check a sale against the catalogue, without the database; Invalid names the bad field."""
    city = catalogue.city(report.customer["city"])
    if city is None:
        raise Invalid.field("customer.city", unknown_city(report.customer["city"]))
    tz = ZoneInfo(city.timezone)
    sold_at = aware(report.sold_at, tz).astimezone(UTC)
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
    receipt_id: int | None = None,
) -> SaleResult:
    """Register the customer and units of a sale and open a work order per unit needing service."""
    city = find_city(session, report.customer["city"])
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
                new_order(
                    session,
                    actor,
                    unit=unit,
                    kind=kind,
                    window=checked.window,
                    sale_id=sale.id,
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
