"""Tables. Times are timezone-aware UTC; money is integer minor units; enums are short strings."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and always returns them aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType}


def _choices(name: str, column: str, enum_cls: type[enum.Enum]) -> CheckConstraint:
    values = ", ".join(f"'{m.value}'" for m in enum_cls)
    return CheckConstraint(f"{column} IN ({values})", name=name)


class Role(enum.StrEnum):
    SALES = "sales"
    AGENT = "agent"
    PROVIDER = "provider"
    CALLBACK = "callback"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class OrderKind(enum.StrEnum):
    DELIVERY = "delivery"
    INSTALLATION = "installation"
    DELIVERY_INSTALLATION = "delivery_installation"
    REPAIR = "repair"


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


class Seniority(enum.StrEnum):
    JUNIOR = "junior"
    REGULAR = "regular"
    SENIOR = "senior"
    MASTER = "master"


class SaleChannel(enum.StrEnum):
    WEB = "web"
    PHONE = "phone"


# --- reference data -------------------------------------------------------------------------


class City(Base):
    __tablename__ = "cities"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(2), default="US")
    # What the robot speaks and understands with its customers: "en" or "zh-CN" (dispatch.language).
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")


class ProductLine(Base):
    __tablename__ = "product_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))


class ProductModel(Base):
    __tablename__ = "product_models"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id"), index=True)
    product_line: Mapped[ProductLine] = relationship(lazy="joined")


class Provider(Base):
    __tablename__ = "providers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    under_review: Mapped[bool] = mapped_column(Boolean, default=False)
    review_reason: Mapped[str | None] = mapped_column(Text)


class Coverage(Base):
    """A provider serves a product line in a city; the lowest priority number is asked first."""

    __tablename__ = "coverage"
    __table_args__ = (UniqueConstraint("city_id", "product_line_id", "provider_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"))
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id"))
    priority: Mapped[int] = mapped_column(Integer, default=100)
    provider: Mapped[Provider] = relationship(lazy="joined")
    city: Mapped[City] = relationship(lazy="joined")
    product_line: Mapped[ProductLine] = relationship(lazy="joined")


class Installer(Base):
    __tablename__ = "installers"
    __table_args__ = (_choices("ck_installers_seniority", "seniority", Seniority),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    seniority: Mapped[str] = mapped_column(String(16), default=Seniority.REGULAR.value)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# --- people and access ------------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        _choices("ck_users_role", "role", Role),
        CheckConstraint("(role = 'provider') = (provider_id IS NOT NULL)", name="ck_users_provider_binding"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    label: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    user: Mapped[User] = relationship(lazy="joined")


# --- customers, sales, units, work orders ----------------------------------------------------


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
    # The appointment start the provider was last reminded of (a reminder job runs once per booking).
    reminded_for: Mapped[datetime | None]
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


# --- the audit trail, the outbox, idempotency -----------------------------------------------


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


class OutboxMessage(Base):
    """A job request written in the same transaction as the change that implies it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "dispatched_at", "available_at"),
        Index("ix_outbox_unfinished", "completed_at", "dispatched_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None]
    # Set by the job itself, in its own transaction: until then the row may be handed over again.
    completed_at: Mapped[datetime | None]
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    relay_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    response_status: Mapped[int | None]
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    locked_until: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- verification callbacks, contact attempts, complaints, opt-outs (issue 3) ----------------


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
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
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
WorkOrder.callbacks = relationship(Callback, order_by=Callback.id, viewonly=True)  # type: ignore[attr-defined]
WorkOrder.complaints = relationship(Complaint, order_by=Complaint.id, viewonly=True)  # type: ignore[attr-defined]
