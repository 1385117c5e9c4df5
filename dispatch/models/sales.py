"""Sales as reported, and sales accepted at once (receipts) for the worker to register."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.models.base import Base, JSONType, _choices, utcnow


class SaleChannel(enum.StrEnum):
    WEB = "web"
    PHONE = "phone"


class Sale(Base):
    __tablename__ = "sales"
    __table_args__ = (_choices("ck_sales_channel", "channel", SaleChannel),)
    id: Mapped[int] = mapped_column(primary_key=True)
    shop: Mapped[str] = mapped_column(String(160))
    salesperson: Mapped[str] = mapped_column(String(160))
    sold_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(8))
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReceiptStatus(enum.StrEnum):
    ACCEPTED = "accepted"  # kept as reported, waiting for the worker
    REGISTERED = "registered"  # customer, units and work orders created (sale_id set)
    REJECTED = "rejected"  # registration found it could not be done (errors say why)


class SaleReceipt(Base):
    """A sale accepted with `Prefer: respond-async`: kept exactly as reported until registered.

    One INSERT on the request path; the worker's `register_sales` job turns it into a sale. The
    receipt is never deleted, so an accepted sale cannot be lost between the two.
    """

    __tablename__ = "sale_receipts"
    __table_args__ = (
        _choices("ck_sale_receipts_status", "status", ReceiptStatus),
        UniqueConstraint("reported_by_id", "idempotency_key"),
        # The worker's queue: only receipts still waiting are indexed.
        Index(
            "ix_sale_receipts_waiting",
            "id",
            postgresql_where=text("status = 'accepted'"),
            sqlite_where=text("status = 'accepted'"),
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(12), default=ReceiptStatus.ACCEPTED.value)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"))
    errors: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    processed_at: Mapped[datetime | None]
    # Unexpected failures while registering (the receipt stays accepted and is retried).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
