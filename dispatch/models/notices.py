"""Provider notices: what a provider is told of its orders, on which channels, and each attempt."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.models.base import Base, _choices, utcnow

if TYPE_CHECKING:
    from dispatch.models.orders import WorkOrder
    from dispatch.models.reference import Provider


class NoticeType(enum.StrEnum):
    """What a notice tells (the webhook's `type`)."""

    ROUTED = "work_order.routed"
    BOOKED = "work_order.booked"
    RESCHEDULED = "work_order.rescheduled"
    UNBOOKED = "work_order.unbooked"
    REOPENED = "work_order.reopened"
    CANCELLED = "work_order.cancelled"
    # The order was moved to another provider: the one it was routed to before hears it is off.
    WITHDRAWN = "work_order.withdrawn"
    VISIT_UPCOMING = "work_order.visit_upcoming"


class NoticeChannel(enum.StrEnum):
    TEXT = "text"
    WEBHOOK = "webhook"


class DeliveryStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # waiting for its time (or for its next retry)
    HELD = "held"  # a text held until the provider's quiet hours end
    SENDING = "sending"  # an attempt started and not yet finished
    DELIVERED = "delivered"
    FAILED = "failed"  # refused, or every retry used up
    UNCERTAIN = "uncertain"  # a text that may have gone out: never sent again blindly
    SUPERSEDED = "superseded"  # a later booking version made it pointless
    SKIPPED = "skipped"  # nowhere to send it any more (phone or endpoint removed)


FINAL_STATUSES = frozenset(
    {
        DeliveryStatus.DELIVERED,
        DeliveryStatus.FAILED,
        DeliveryStatus.UNCERTAIN,
        DeliveryStatus.SUPERSEDED,
        DeliveryStatus.SKIPPED,
    }
)


class AttemptOutcome(enum.StrEnum):
    SENDING = "sending"  # started; a worker that died here leaves it so
    DELIVERED = "delivered"
    RETRY = "retry"  # failed, another attempt planned
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    LOST = "lost"  # a webhook attempt whose worker died: the next attempt carries the same id


class ProviderEndpoint(Base):
    """A provider's own system: its webhook URL and the secret notices are signed with.

    The secret is kept as issued (it must sign every delivery); it is shown once, when set.
    """

    __tablename__ = "provider_endpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    provider: Mapped[Provider] = relationship(lazy="joined")


class ProviderNotice(Base):
    """One thing a provider is told about one version of an order's booking (at once, or ahead of a visit)."""

    __tablename__ = "provider_notices"
    __table_args__ = (
        _choices("ck_provider_notices_type", "type", NoticeType),
        Index("ix_provider_notices_provider", "provider_id", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # Once per (order, version, provider, type, lead): planning the same version twice adds nothing.
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    booking_version: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    # "now" for a notice of a change; a lead time ("evening-before@18:00", "1h") for a visit reminder.
    lead: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime]
    # The Standard Webhooks message id: the same on every retry, so that a receiver can dedupe.
    webhook_id: Mapped[str] = mapped_column(String(40), unique=True)
    superseded_at: Mapped[datetime | None]
    superseded_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    work_order: Mapped[WorkOrder] = relationship(lazy="joined")
    provider: Mapped[Provider] = relationship(lazy="joined")
    deliveries: Mapped[list[NoticeDelivery]] = relationship(
        back_populates="notice", order_by="NoticeDelivery.id", lazy="selectin"
    )


class NoticeDelivery(Base):
    """A notice on one channel: sent at most once from our side (a webhook retried under one id)."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (
        UniqueConstraint("notice_id", "channel"),
        _choices("ck_notice_deliveries_channel", "channel", NoticeChannel),
        _choices("ck_notice_deliveries_status", "status", DeliveryStatus),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("provider_notices.id"))
    channel: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.SCHEDULED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_http_status: Mapped[int | None]
    # The text's Twilio MessageSid, once sent.
    sid: Mapped[str | None] = mapped_column(String(64))
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notice: Mapped[ProviderNotice] = relationship(back_populates="deliveries")
    attempt_log: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="delivery", order_by="DeliveryAttempt.number", lazy="selectin"
    )


class DeliveryAttempt(Base):
    """One try of one delivery, as the provider and headquarters read it in the delivery log."""

    __tablename__ = "notice_attempts"
    __table_args__ = (
        UniqueConstraint("delivery_id", "number"),
        _choices("ck_notice_attempts_outcome", "outcome", AttemptOutcome),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("notice_deliveries.id"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(300))
    next_retry_at: Mapped[datetime | None]
    delivery: Mapped[NoticeDelivery] = relationship(back_populates="attempt_log")
