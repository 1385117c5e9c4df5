"""Checking providers: the audit trail's events, verification callbacks and their contact
attempts, complaints, opt-outs."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.models.base import Base, JSONType, _choices, utcnow
from dispatch.models.orders import WorkOrder  # the views below are set on it

if TYPE_CHECKING:
    from dispatch.models.reference import Provider


class AuditEvent(Base):
    """One change, appended and never altered. `hash` chains each event to the one before."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity", "entity_id"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime]
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(160))  # "user:12 (agent)", "system:relay", ...
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(60))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class CallbackPurpose(enum.StrEnum):
    VERIFY_VISIT = "verify_visit"
    STATUS_CHECK = "status_check"


class CallbackState(enum.StrEnum):
    SCHEDULED = "scheduled"  # waiting for its next automated attempt (due_at)
    IN_PROGRESS = "in_progress"  # an automated attempt is out (call ringing, text awaiting reply)
    HUMAN_QUEUE = "human_queue"  # for the callback team
    CLAIMED = "claimed"  # leased by one agent until lease_until
    RESOLVED = "resolved"  # has a verdict
    CANCELLED = "cancelled"  # no longer needed (a status check whose order got closed)


class Verdict(enum.StrEnum):
    CONFIRMED = "confirmed"
    CONTRADICTED = "contradicted"
    CUSTOMER_RESCHEDULED = "customer_rescheduled"
    UNREACHABLE = "unreachable"


class Rating(enum.StrEnum):
    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    NOT_SATISFIED = "not_satisfied"


class Channel(enum.StrEnum):
    VOICE = "voice"
    SMS = "sms"
    HUMAN = "human"


class ComplaintStatus(enum.StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    CLOSED = "closed"


class Callback(Base):
    """One verification of a work order with its customer: planned, attempted, resolved."""

    __tablename__ = "callbacks"
    __table_args__ = (
        _choices("ck_callbacks_purpose", "purpose", CallbackPurpose),
        _choices("ck_callbacks_state", "state", CallbackState),
        CheckConstraint(
            "verdict IS NULL OR verdict IN ('confirmed', 'contradicted', 'customer_rescheduled', 'unreachable')",
            name="ck_callbacks_verdict",
        ),
        CheckConstraint(
            "rating IS NULL OR rating IN ('very_satisfied', 'satisfied', 'not_satisfied')",
            name="ck_callbacks_rating",
        ),
        CheckConstraint(
            "(purpose = 'verify_visit') = (visit_id IS NOT NULL)", name="ck_callbacks_visit_iff_verify"
        ),
        CheckConstraint(
            "(purpose = 'status_check') = (check_day IS NOT NULL)", name="ck_callbacks_day_iff_status"
        ),
        # One verification per visit; one status check per order and local day.
        UniqueConstraint("visit_id", name="uq_callbacks_visit"),
        UniqueConstraint("work_order_id", "check_day", name="uq_callbacks_order_day"),
        Index("ix_callbacks_state_due", "state", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    purpose: Mapped[str] = mapped_column(String(16))
    check_day: Mapped[str | None] = mapped_column(String(10))  # status check: the booked local day
    # Snapshot of what the provider claimed (outcome/reason), so later edits cannot rewrite it.
    claim: Mapped[str] = mapped_column(String(32))  # "completed", a NotCompletedReason, "status_check"
    claim_at: Mapped[datetime | None]  # the visit time claimed, or the booked appointment start
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    installer_id: Mapped[int | None] = mapped_column(ForeignKey("installers.id"))
    phone: Mapped[str] = mapped_column(String(20))  # the customer's number (E.164) when planned
    state: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime]
    automated_attempts: Mapped[int] = mapped_column(Integer, default=0)
    human_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_channel: Mapped[str | None] = mapped_column(String(8))
    # available_at of the last outbox row that asks for this callback's next attempt (the sweep
    # re-puts one when that is long past and the callback is still waiting).
    last_enqueued_at: Mapped[datetime | None]
    escalation_reason: Mapped[str | None] = mapped_column(String(60))
    lease_holder_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lease_until: Mapped[datetime | None]
    verdict: Mapped[str | None] = mapped_column(String(24))
    rating: Mapped[str | None] = mapped_column(String(16))
    answer_happened: Mapped[str | None] = mapped_column(String(24))
    answer_note: Mapped[str | None] = mapped_column(Text)
    answer_channel: Mapped[str | None] = mapped_column(String(8))
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    work_order: Mapped[WorkOrder] = relationship(lazy="joined")
    provider: Mapped[Provider | None] = relationship(lazy="joined")
    attempts: Mapped[list[ContactAttempt]] = relationship(
        back_populates="callback", order_by="ContactAttempt.seq"
    )


class ContactAttempt(Base):
    """One try on one channel; created and committed before anything is dialled or sent."""

    __tablename__ = "contact_attempts"
    __table_args__ = (
        UniqueConstraint("callback_id", "seq", name="uq_contact_attempts_seq"),
        _choices("ck_contact_attempts_channel", "channel", Channel),
        Index("ix_contact_attempts_to_number", "to_number", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8))
    # started -> placed -> (provider statuses...) -> answered | not_answered | failed | opted_out
    status: Mapped[str] = mapped_column(String(24), default="started")
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    to_number: Mapped[str] = mapped_column(String(20))
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    placed_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(32))  # Twilio AMD result
    answer_happened: Mapped[str | None] = mapped_column(String(24))
    answer_rating: Mapped[str | None] = mapped_column(String(16))
    answer_text: Mapped[str | None] = mapped_column(Text)  # digits, SMS body or the agent's note
    status_history: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    # Each answer heard: {"question", "input" (dtmf|speech|sms), "text", "confidence", "reading",
    # "result"}; the evidence behind a robot's verdict (dispatch.audit.understanding).
    heard: Mapped[list[Any]] = mapped_column(JSONType, default=list, server_default="[]")
    language: Mapped[str | None] = mapped_column(String(8))  # the language the attempt spoke
    callback: Mapped[Callback] = relationship(back_populates="attempts")


class AttemptStatusEvent(Base):
    """A status callback already applied: a repeated delivery of (sid, status) is ignored."""

    __tablename__ = "attempt_status_events"
    __table_args__ = (UniqueConstraint("provider_sid", "status", name="uq_attempt_status_events"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_sid: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Complaint(Base):
    """A contradicted claim, held at headquarters: the provider may read it, never change it."""

    __tablename__ = "complaints"
    __table_args__ = (
        _choices("ck_complaints_status", "status", ComplaintStatus),
        Index("ix_complaints_provider_status", "provider_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id"), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    kind: Mapped[str] = mapped_column(String(32))  # "contradicted_claim", ...
    status: Mapped[str] = mapped_column(String(16), default=ComplaintStatus.OPEN.value)
    summary: Mapped[str] = mapped_column(Text)
    status_note: Mapped[str | None] = mapped_column(Text)
    deadline_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None]
    provider: Mapped[Provider] = relationship(lazy="joined")

    if TYPE_CHECKING:
        # Not a column: the complaint's audit events, set by the query that shows it.
        history: list[AuditEvent]


class OptOut(Base):
    """A number that said STOP: no automated calls or texts to it."""

    __tablename__ = "opt_outs"
    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL once its customer was erased: phone_hash alone remains, the evidence of the refusal.
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    # The keyed digest of the number (dispatch.platform.personal.digest), as the audit trail shows it.
    phone_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# Read-only views from an order to its verification (for the work-order detail).
WorkOrder.callbacks = relationship(Callback, order_by=Callback.id, viewonly=True)
WorkOrder.complaints = relationship(Complaint, order_by=Complaint.id, viewonly=True)
