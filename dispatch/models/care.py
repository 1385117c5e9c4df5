"""Units cared for: maintenance plans per product line and their invitations; seasonal campaigns."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.models.base import Base, JSONType, _choices, utcnow
from dispatch.models.reference import ProductLine


class MaintenancePlan(Base):
    """A kind of maintenance a product line needs every `interval_months` (e.g. tank cleaning, 12).

    A unit is due `interval_months` after its installation or after the last completed maintenance
    of this plan on it; it is invited from `invite_days` before that, and past due `window_days`
    after it.
    """

    __tablename__ = "maintenance_plans"
    __table_args__ = (
        CheckConstraint("interval_months BETWEEN 1 AND 240", name="ck_maintenance_plans_interval"),
        CheckConstraint("window_days BETWEEN 0 AND 365", name="ck_maintenance_plans_window"),
        CheckConstraint("invite_days BETWEEN 0 AND 365", name="ck_maintenance_plans_invite"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # What the customer is told it is, per language ({"en": "tank cleaning", "zh-CN": "水箱清洗"}).
    names: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id"), index=True)
    interval_months: Mapped[int] = mapped_column(Integer)
    window_days: Mapped[int] = mapped_column(Integer, default=30)
    invite_days: Mapped[int] = mapped_column(Integer, default=21)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    product_line: Mapped[ProductLine] = relationship(lazy="joined")


class InvitationState(enum.StrEnum):
    INVITED = "invited"  # recorded; its text requested through the contact core
    BOOKED = "booked"  # the customer said yes: a maintenance order was opened


class MaintenanceInvitation(Base):
    """One invitation per unit per plan per cycle (the cycle is named by its due date)."""

    __tablename__ = "maintenance_invitations"
    __table_args__ = (
        UniqueConstraint("unit_id", "plan_id", "due_on", name="uq_maintenance_invitations_cycle"),
        _choices("ck_maintenance_invitations_state", "state", InvitationState),
        # The daily pass picks up invitations whose text was not yet requested (a pass cut short).
        Index(
            "ix_maintenance_invitations_unqueued",
            "id",
            postgresql_where="message_id IS NULL",
            sqlite_where="message_id IS NULL",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("maintenance_plans.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    due_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default=InvitationState.INVITED.value)
    # The contact core's message carrying the invitation (None until requested).
    message_id: Mapped[int | None] = mapped_column(Integer)
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    plan: Mapped[MaintenancePlan] = relationship(lazy="joined")


class CampaignState(enum.StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"


class Campaign(Base):
    """A seasonal message to the owners of units of some product lines in some cities."""

    __tablename__ = "campaigns"
    __table_args__ = (
        _choices("ck_campaigns_state", "state", CampaignState),
        CheckConstraint("batch_size BETWEEN 1 AND 10000", name="ck_campaigns_batch"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # Ids of the product lines and cities (the "cold list") it is for; empty cities: every city.
    product_line_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    city_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    # The text per language: {"en": "...", "zh-CN": "..."}.
    texts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=CampaignState.DRAFT.value)
    batch_size: Mapped[int] = mapped_column(Integer, default=500)
    # Raised by every start or resume: a batch job requested before a pause finds it moved on.
    run_no: Mapped[int] = mapped_column(Integer, default=0)
    batches: Mapped[int] = mapped_column(Integer, default=0)
    # Customers are taken in id order: the highest id a batch has looked at (the next starts after).
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    contacted: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class CampaignContact(Base):
    """A customer a campaign contacted (its message requested): never twice (the primary key)."""

    __tablename__ = "campaign_contacts"
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    batch_no: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
