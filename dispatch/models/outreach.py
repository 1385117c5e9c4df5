"""Messages to customers (outreach): each text, its history, consent and refusal, requests for a person.

A `CustomerMessage` is queued once per dedupe key and sent at most once: its text is composed at
send time, under the one contact policy (dispatch/outreach/policy.py). Every send, hold, skip,
cap and supersession is a `ContactEvent` in the customer's contact history, with its reason.
`ContactConsent` keeps the evidence of each refusal (STOP, 退订, TD) and consent (START) with the
words, channel, time and message sid; `opt_outs` (models/audit.py) is the current refusal.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.models.base import Base, JSONType, _choices, utcnow

if TYPE_CHECKING:
    from dispatch.models.customers import Customer
    from dispatch.models.orders import WorkOrder


class MessageStatus(enum.StrEnum):
    PENDING = "pending"  # queued: its send job is requested for `due_at`
    HELD = "held"  # quiet hours: its send job is requested for when they end
    SENDING = "sending"  # committed before the gateway was asked: never sent a second time
    SENT = "sent"  # the gateway took it (provider_sid)
    UNCERTAIN = "uncertain"  # may have been sent (timeout, worker lost mid-send): a person checks
    FAILED = "failed"  # refused for good by the gateway (a wrong number)
    SKIPPED = "skipped"  # opted out, or the customer was erased
    CAPPED = "capped"  # proactive contact over the cap for the customer's local period
    SUPERSEDED = "superseded"  # no longer applies (a newer booking, a cancelled order, ...)


FINAL_STATUSES = frozenset(
    {
        MessageStatus.SENT,
        MessageStatus.UNCERTAIN,
        MessageStatus.FAILED,
        MessageStatus.SKIPPED,
        MessageStatus.CAPPED,
        MessageStatus.SUPERSEDED,
    }
)


class CustomerMessage(Base):
    """One text to one customer, for one purpose, at most once (its dedupe key)."""

    __tablename__ = "customer_messages"
    __table_args__ = (
        _choices("ck_customer_messages_status", "status", MessageStatus),
        Index("ix_customer_messages_customer_started", "customer_id", "started_at"),
        Index("ix_customer_messages_status_due", "status", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    purpose: Mapped[str] = mapped_column(String(40))
    # Transactional (about a visit booked, a verification): not capped. Proactive: capped.
    transactional: Mapped[bool]
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    # The booking version a booking's message is for (a newer one supersedes it).
    booking_version: Mapped[int | None]
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.PENDING.value)
    not_before: Mapped[datetime]
    # When its send job is due next (not_before, or the end of quiet hours while held).
    due_at: Mapped[datetime]
    # Send jobs requested so far (each through the outbox, key "message:<id>:<n>").
    requests: Mapped[int] = mapped_column(default=0)
    # Set at send time (composed then, in the customer's language then).
    language: Mapped[str | None] = mapped_column(String(8))
    to_number: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str | None] = mapped_column(Text)
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    reason: Mapped[str | None] = mapped_column(String(300))
    # Sent for a purpose that takes replies: the newest such message gets the customer's reply.
    awaits_reply: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    customer: Mapped[Customer] = relationship(lazy="joined")
    work_order: Mapped[WorkOrder | None] = relationship()


class ContactEventKind(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    HELD = "held"
    SKIPPED = "skipped"
    CAPPED = "capped"
    SUPERSEDED = "superseded"
    UNCERTAIN = "uncertain"
    FAILED = "failed"
    REPLY = "reply"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"


class ContactEvent(Base):
    """One line of a customer's contact history: what happened to a message (or consent), and why."""

    __tablename__ = "contact_events"
    __table_args__ = (
        _choices("ck_contact_events_kind", "kind", ContactEventKind),
        Index("ix_contact_events_customer_at", "customer_id", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("customer_messages.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    reason: Mapped[str | None] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    message: Mapped[CustomerMessage | None] = relationship()


class ContactConsent(Base):
    """Evidence of one refusal (opted out) or consent (opted back in), kept after an erasure as a digest."""

    __tablename__ = "contact_consents"
    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL once its customer was erased: phone_hash remains (dispatch.platform.personal.digest).
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    consented: Mapped[bool]  # False: a refusal
    keyword: Mapped[str] = mapped_column(String(20))  # STOP, START (退订 and TD read as STOP)
    # The words as received (dropped at an erasure: the keyword stays).
    words: Mapped[str | None] = mapped_column(String(320))
    channel: Mapped[str] = mapped_column(String(20))  # sms, voice, hotline, ...
    message_sid: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class PersonRequest(Base):
    """Something a customer's text asks of a person (another time), or a text a person must check."""

    __tablename__ = "person_requests"
    __table_args__ = (Index("ix_person_requests_open", "done_at", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("customer_messages.id"))
    # "reschedule" (the reply word), "check_text" (a text that may or may not have gone out).
    kind: Mapped[str] = mapped_column(String(24))
    words: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    done_note: Mapped[str | None] = mapped_column(String(300))
    customer: Mapped[Customer] = relationship(lazy="joined")
    work_order: Mapped[WorkOrder | None] = relationship()
