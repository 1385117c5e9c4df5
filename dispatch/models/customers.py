"""Customers and the product units registered to them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    ForeignKey,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.models.base import Base, utcnow

if TYPE_CHECKING:
    from dispatch.models.orders import WorkOrder
    from dispatch.models.reference import City, ProductModel


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    phone: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    address: Mapped[str] = mapped_column(String(300))
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"))
    language: Mapped[str | None] = mapped_column(String(8))  # overrides the city's language
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the customer's personal data was erased on request (dispatch.customers.erasure).
    erased_at: Mapped[datetime | None]
    city: Mapped[City] = relationship(lazy="joined")
    units: Mapped[list[Unit]] = relationship(back_populates="customer", order_by="Unit.id")


class Unit(Base):
    """One product unit registered to a customer, at the address where it is installed."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    product_model_id: Mapped[int] = mapped_column(ForeignKey("product_models.id"))
    serial_number: Mapped[str | None] = mapped_column(String(80), unique=True)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"))
    address: Mapped[str] = mapped_column(String(300))
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"))
    purchased_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    customer: Mapped[Customer] = relationship(back_populates="units")
    product_model: Mapped[ProductModel] = relationship(lazy="joined")
    city: Mapped[City] = relationship(lazy="joined")
    work_orders: Mapped[list[WorkOrder]] = relationship(back_populates="unit", order_by="WorkOrder.id")
