"""Work orders (one state machine: dispatch.orders.machine) and the visits that close them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.models.base import Base, _choices, utcnow

if TYPE_CHECKING:
    from dispatch.models.audit import AuditEvent, Callback, Complaint
    from dispatch.models.customers import Customer, Unit
    from dispatch.models.reference import City, Installer, ProductLine, Provider


class OrderKind(enum.StrEnum):
    DELIVERY = "delivery"
    INSTALLATION = "installation"
    DELIVERY_INSTALLATION = "delivery_installation"
    REPAIR = "repair"
    MAINTENANCE = "maintenance"  # a maintenance plan's visit (dispatch.care), routed like any other


class OrderState(enum.StrEnum):
    UNASSIGNED = "unassigned"
    PENDING = "pending"
    BOOKED = "booked"
    CLOSED_COMPLETED = "closed_completed"
    CLOSED_NOT_COMPLETED = "closed_not_completed"
    VERIFIED = "verified"
    CANCELLED = "cancelled"


class Outcome(enum.StrEnum):
    COMPLETED = "completed"
    NOT_COMPLETED = "not_completed"


class NotCompletedReason(enum.StrEnum):
    CUSTOMER_NOT_HOME = "customer_not_home"
    CUSTOMER_RESCHEDULED = "customer_rescheduled"
    PARTS_MISSING = "parts_missing"
    SITE_NOT_READY = "site_not_ready"
    CUSTOMER_REFUSED = "customer_refused"
    WRONG_ADDRESS = "wrong_address"
    OTHER = "other"


class WorkOrder(Base):
    __tablename__ = "work_orders"
    __table_args__ = (
        _choices("ck_work_orders_kind", "kind", OrderKind),
        _choices("ck_work_orders_state", "state", OrderState),
        CheckConstraint(
            "appointment_end IS NULL OR appointment_end > appointment_start",
            name="ck_work_orders_window",
        ),
        Index("ix_work_orders_provider_state", "provider_id", "state"),
        Index("ix_work_orders_state_appointment", "state", "appointment_start"),
        Index(
            "ix_work_orders_unit_maintenance",
            "unit_id",
            "maintenance_plan_id",
            postgresql_where="maintenance_plan_id IS NOT NULL",
            sqlite_where="maintenance_plan_id IS NOT NULL",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(24))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), index=True)
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"))
    appointment_start: Mapped[datetime | None]
    appointment_end: Mapped[datetime | None]
    fault_category: Mapped[str | None] = mapped_column(String(40))
    fault_description: Mapped[str | None] = mapped_column(Text)
    # For a repair: the earlier repair of the same unit and fault that this one repeats.
    repeat_of_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))
    # For a maintenance order: the plan it does (the unit's next due date counts from its visit).
    maintenance_plan_id: Mapped[int | None] = mapped_column(ForeignKey("maintenance_plans.id"))
    # Raised by every change to the booking (each transition but verify): a reminder or notice is
    # tied to one version and sent only while that version stands (orders/machine.py, notices/).
    booking_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # Why it was cancelled (free text: kept here, erasable, and only as a digest in the trail).
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    unit: Mapped[Unit] = relationship(back_populates="work_orders", lazy="joined")
    customer: Mapped[Customer] = relationship(lazy="joined")
    city: Mapped[City] = relationship(lazy="joined")
    product_line: Mapped[ProductLine] = relationship(lazy="joined")
    provider: Mapped[Provider | None] = relationship(lazy="joined")
    visits: Mapped[list[Visit]] = relationship(back_populates="work_order", order_by="Visit.id")

    if TYPE_CHECKING:
        # Read-only views to its verification, set in dispatch.models.audit (which builds on this module).
        callbacks: Mapped[list[Callback]]
        complaints: Mapped[list[Complaint]]
        # Not a column: the order's audit events, set by the queries that show them.
        history: list[AuditEvent]


class Visit(Base):
    """A provider's report of one visit: the outcome it claims, closing the order."""

    __tablename__ = "visits"
    __table_args__ = (
        _choices("ck_visits_outcome", "outcome", Outcome),
        CheckConstraint(
            "(outcome = 'completed') = (reason IS NULL)", name="ck_visits_reason_iff_not_completed"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    installer_id: Mapped[int] = mapped_column(ForeignKey("installers.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    visited_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    closed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime] = mapped_column(default=utcnow)
    work_order: Mapped[WorkOrder] = relationship(back_populates="visits")
    installer: Mapped[Installer] = relationship(lazy="joined")
