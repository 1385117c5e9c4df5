"""Erasure on request (PIPL, GDPR): a customer's personal data removed from every row that holds it.

The audit trail is append-only and hash-chained, so it is never touched: its events carry ids and
keyed digests only (dispatch.platform.personal), and the chain still verifies after an erasure. Everything
else that holds the customer's name, phone number, address or words is overwritten here, in one
transaction, and the erasure itself is an audit event (with the operator's reason). What is kept,
and why: docs/guarantees/erasure.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, or_, select
from sqlalchemy.orm import QueryableAttribute, Session

from dispatch.audit import trail
from dispatch.models import (
    Appeal,
    Base,
    Callback,
    CallbackState,
    Complaint,
    ContactAttempt,
    ContactConsent,
    ContactEvent,
    Customer,
    CustomerMessage,
    Fine,
    IdempotencyRecord,
    OptOut,
    OrderState,
    OutboxMessage,
    PersonRequest,
    Provider,
    Sale,
    SaleReceipt,
    Unit,
    Visit,
    WorkOrder,
    utcnow,
)
from dispatch.platform import personal
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Conflict, Invalid, NotFound
from dispatch.platform.personal import ERASED

OPEN_ORDER_STATES = (OrderState.UNASSIGNED, OrderState.PENDING, OrderState.BOOKED)
OPEN_CALLBACK_STATES = (
    CallbackState.SCHEDULED,
    CallbackState.IN_PROGRESS,
    CallbackState.HUMAN_QUEUE,
    CallbackState.CLAIMED,
)
# What an attempt's status history may keep: the facts, never a provider's error text (which can
# quote the number dialled).
_HISTORY_KEYS = ("status", "at", "answered_by", "happened")
# Shorter values are replaced only where a whole string equals them (a two-letter name must not
# mangle every word that contains it).
_MIN_SUBSTRING = 5


@dataclass
class ErasureReport:
    """What an erasure changed, by table (counts of rows), for the operator and the audit event."""

    customer_id: int
    work_orders: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, n: int = 1) -> None:
        """Count `n` more rows changed in `table`."""
        if n:
            self.counts[table] = self.counts.get(table, 0) + n


def _scrub_text(text: str, values: Iterable[str]) -> str:
    for value in values:
        if text == value:
            return ERASED
        if len(value) >= _MIN_SUBSTRING and value in text:
            text = text.replace(value, ERASED)
    return text


def scrub(data: Any, values: Iterable[str]) -> Any:
    """A copy of JSON-like data with every personal value in its strings replaced by '(erased)'."""
    values = sorted(set(values), key=len, reverse=True)  # longest first: an address before its street
    if isinstance(data, str):
        return _scrub_text(data, values)
    if isinstance(data, list):
        return [scrub(item, values) for item in data]
    if isinstance(data, dict):
        return {key: scrub(item, values) for key, item in data.items()}
    return data


def _containing(column: QueryableAttribute[Any], values: list[str]) -> ColumnElement[bool]:
    """A filter: the JSON column's text contains any of the values."""
    return or_(*(cast(column, Text).contains(v, autoescape=True) for v in values))


def erase_customer(
    session: Session,
    actor: Actor,
    customer_id: int,
    *,
    reason: str,
    settings: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> ErasureReport:
    """Remove a customer's personal data from every table but the audit trail; the caller commits.

    Refused (Conflict) while the customer has an open work order (a provider still needs the
    address: cancel it first) or was already erased; the reason must not itself hold the data.
    """
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise Invalid.field("reason", "is required")
    customer = session.scalars(
        select(Customer).where(Customer.id == customer_id).with_for_update(of=Customer)
    ).first()
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    if customer.erased_at is not None:
        raise Conflict(f"customer {customer_id} was already erased on {customer.erased_at:%Y-%m-%d}")
    report = ErasureReport(customer_id=customer.id)

    orders = list(
        session.scalars(select(WorkOrder).where(WorkOrder.customer_id == customer.id).order_by(WorkOrder.id))
        .unique()
        .all()
    )
    still_open = [o.id for o in orders if o.state in OPEN_ORDER_STATES]
    if still_open:
        raise Conflict(
            f"customer {customer_id} has open work orders {', '.join(map(str, still_open))}: cancel them first"
        )
    report.work_orders = [o.id for o in orders]
    order_ids = report.work_orders or [-1]
    units = list(session.scalars(select(Unit).where(Unit.customer_id == customer.id)))
    callbacks = list(
        session.scalars(
            select(Callback).where(Callback.work_order_id.in_(order_ids)).with_for_update(of=Callback)
        )
        .unique()
        .all()
    )
    attempts = list(
        session.scalars(
            select(ContactAttempt).where(ContactAttempt.callback_id.in_([c.id for c in callbacks] or [-1]))
        )
    )

    phones = {customer.phone} | {c.phone for c in callbacks} | {a.to_number for a in attempts}
    phones = {p for p in phones if p and p.startswith("+")}
    words = {c.answer_note for c in callbacks} | {a.answer_text for a in attempts}
    words |= {o.fault_description for o in orders} | {o.cancel_reason for o in orders}
    values = {customer.name, customer.address, *(u.address for u in units), *phones}
    values |= {p[1:] for p in phones}  # the number without its '+', as a form or a log may hold it
    values = {v.strip() for v in values if v and v.strip()}
    if any(v.lower() in reason.lower() for v in values if len(v) >= 3):
        raise Invalid.field("reason", "must not contain the customer's name, phone number or address")
    texts = values | {w.strip() for w in words if w and w.strip()}

    placeholder = personal.erased_phone(customer.id)
    customer.name, customer.address, customer.phone = ERASED, ERASED, placeholder
    customer.language = None
    customer.erased_at = now
    for unit in units:
        unit.address = ERASED
    report.add("units", len(units))

    for order in orders:
        if order.fault_description:
            order.fault_description = ERASED
        if order.cancel_reason:
            order.cancel_reason = ERASED
    visits = list(
        session.scalars(select(Visit).where(Visit.work_order_id.in_(order_ids), Visit.note.is_not(None)))
    )
    for visit in visits:
        visit.note = None  # the provider's words about the customer's home
    report.add("visits", len(visits))

    for callback in callbacks:
        callback.phone = placeholder
        callback.answer_note = None
        if callback.state in OPEN_CALLBACK_STATES:
            # Nobody may call an erased customer: a verification still waiting ends here.
            before = callback.state
            callback.state = CallbackState.CANCELLED.value
            callback.next_channel = None
            callback.lease_holder_id = None
            callback.lease_until = None
            callback.resolved_at = now
            trail.record(
                session,
                actor,
                "callback",
                callback.id,
                "cancelled",
                from_state=before,
                to_state=callback.state,
                data={"work_order_id": callback.work_order_id, "reason": "customer erased"},
            )
    report.add("callbacks", len(callbacks))
    for attempt in attempts:
        attempt.to_number = placeholder
        attempt.answer_text = None
        attempt.heard = []
        attempt.status_history = [
            {k: v for k, v in entry.items() if k in _HISTORY_KEYS} for entry in attempt.status_history or []
        ]
    report.add("contact_attempts", len(attempts))

    complaints = list(
        session.scalars(select(Complaint).where(Complaint.work_order_id.in_(order_ids))).unique()
    )
    for complaint in complaints:
        complaint.summary = _scrub_text(complaint.summary, sorted(texts, key=len, reverse=True))
        if complaint.status_note:
            complaint.status_note = _scrub_text(complaint.status_note, sorted(texts, key=len, reverse=True))
    report.add("complaints", len(complaints))
    for provider in session.scalars(
        select(Provider).where(Provider.id.in_({c.provider_id for c in complaints} or {-1}))
    ):
        if provider.review_reason:
            provider.review_reason = scrub(provider.review_reason, texts)

    # The ledger's free text about these orders (a supervisor's reason, a provider's appeal): the
    # entries themselves hold ids, amounts and generated memos only, and are never changed.
    fines = list(session.scalars(select(Fine).where(Fine.work_order_id.in_(order_ids))).unique())
    for fine in fines:
        if fine.decision_reason:
            fine.decision_reason = scrub(fine.decision_reason, texts)
    report.add("ledger_fines", len([f for f in fines if f.decision_reason]))
    appeals = list(
        session.scalars(select(Appeal).where(Appeal.fine_id.in_([f.id for f in fines] or [-1]))).unique()
    )
    for appeal in appeals:
        appeal.statement = scrub(appeal.statement, texts)
        if appeal.decision_reason:
            appeal.decision_reason = scrub(appeal.decision_reason, texts)
    report.add("ledger_appeals", len(appeals))

    _erase_receipts(session, customer.id, values, texts, report)
    _scrub_json_rows(
        session, IdempotencyRecord, IdempotencyRecord.response_body, "response_body", texts, report
    )
    _scrub_json_rows(session, OutboxMessage, OutboxMessage.payload, "payload", texts, report)

    refused = list(session.scalars(select(OptOut).where(OptOut.phone.in_(phones or {""}))))
    for row in refused:
        # The refusal stays on record as the number's keyed digest: it still holds if the number
        # comes back, and it proves the STOP was honoured, without the number itself.
        row.phone_hash = row.phone_hash or personal.digest(row.phone or "", settings)
        row.phone = None
    report.add("opt_outs", len(refused))
    # Messages to the customer keep what happened and why (the contact history), not the number,
    # the text or the customer's own words; refusals and consents keep their keyword and channel.
    messages = list(
        session.scalars(select(CustomerMessage).where(CustomerMessage.customer_id == customer.id))
    )
    for message in messages:
        message.to_number = None
        message.body = None
        message.params = {}
    report.add("customer_messages", len(messages))
    replies = list(
        session.scalars(
            select(ContactEvent).where(ContactEvent.customer_id == customer.id, ContactEvent.kind == "reply")
        )
    )
    for reply in replies:
        reply.reason = None
    report.add("contact_events", len(replies))
    consents = list(
        session.scalars(
            select(ContactConsent).where(
                or_(ContactConsent.customer_id == customer.id, ContactConsent.phone.in_(phones or {""}))
            )
        )
    )
    for evidence in consents:
        evidence.phone = None
        evidence.words = None
    report.add("contact_consents", len(consents))
    asked = list(session.scalars(select(PersonRequest).where(PersonRequest.customer_id == customer.id)))
    for request in asked:
        request.words = None
        request.done_note = scrub(request.done_note, texts) if request.done_note else None
    report.add("person_requests", len(asked))
    session.flush()

    trail.record(
        session,
        actor,
        "customer",
        customer.id,
        "erased",
        data={
            "reason": reason,
            "work_orders": report.work_orders,
            "rows": dict(sorted(report.counts.items())),
        },
    )
    return report


def _erase_receipts(
    session: Session, customer_id: int, values: set[str], texts: set[str], report: ErasureReport
) -> None:
    """Sale receipts keep the sale as reported: their customer block goes, whatever its format."""
    sale_ids = select(Sale.id).where(Sale.customer_id == customer_id)
    receipts = session.scalars(
        select(SaleReceipt).where(
            or_(SaleReceipt.sale_id.in_(sale_ids), _containing(SaleReceipt.payload, sorted(values)))
        )
    ).all()
    for receipt in receipts:
        payload = dict(receipt.payload)
        if isinstance(payload.get("customer"), dict):
            reported = payload["customer"]
            # The phone as typed ("(217) 555-0199") matches no stored form: replaced by key.
            payload["customer"] = {k: (v if k == "city" else ERASED) for k, v in reported.items()}
        receipt.payload = scrub(payload, texts)
        if receipt.last_error:
            receipt.last_error = scrub(receipt.last_error, texts)
    report.add("sale_receipts", len(receipts))


def _scrub_json_rows(
    session: Session,
    model: type[Base],
    column: QueryableAttribute[Any],
    attr: str,
    texts: set[str],
    report: ErasureReport,
) -> None:
    """Rows whose JSON holds any of the texts get it replaced by '(erased)' (stored responses, jobs)."""
    candidates = sorted(texts)
    if not candidates:
        return
    rows = session.scalars(select(model).where(column.is_not(None), _containing(column, candidates))).all()
    for row in rows:
        setattr(row, attr, scrub(getattr(row, attr), texts))
    report.add(model.__tablename__, len(rows))
