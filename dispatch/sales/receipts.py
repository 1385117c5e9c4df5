"""Sales accepted now and registered by the worker a moment later (`Prefer: respond-async`).

A shop's system posting sales needs a fast, durable "got it", not the work-order numbers. So the
request path checks the sale against a per-process copy of the catalogue and stores it as a
receipt in one INSERT; the worker's `register_sales` job then registers receipts in batches with
the same `intake.report_sale` the synchronous path uses. A receipt is never deleted: it ends
`registered` (with its sale) or `rejected` (with the errors naming the fields, as a 422 would).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, select, text, true
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.models import (
    JSONType,
    ReceiptStatus,
    Role,
    Sale,
    SaleReceipt,
    Unit,
    User,
    UTCDateTime,
    WorkOrder,
    utcnow,
)
from dispatch.platform.actors import Actor
from dispatch.platform.db import paginate
from dispatch.platform.errors import DomainError, NotFound
from dispatch.platform.idempotency import KeyReused
from dispatch.reference.catalogue import Catalogue
from dispatch.sales import intake

log = logging.getLogger(__name__)

# A receipt whose registration failed unexpectedly this many times is left for an operator
# (it stays `accepted`, listed by GET /sale-receipts?status=accepted, with its last error).
MAX_ATTEMPTS = 5


@dataclass
class ReceiptView:
    """A receipt, with the registered sale when it is asked for one by one."""

    receipt: SaleReceipt
    sale: intake.SaleResult | None = None


@dataclass
class RegisterReport:
    taken: int = 0
    registered: int = 0
    rejected: int = 0
    failed: int = 0


# Written as SQL (the same on PostgreSQL and SQLite 3.35+): SQLAlchemy cannot cache the compiled
# form of its dialect-specific ON CONFLICT inserts, and compiling one costs more than running it.
_INSERT = text(
    "INSERT INTO sale_receipts"
    " (reported_by_id, received_at, idempotency_key, request_hash, payload, status, attempts)"
    " VALUES (:reported_by_id, :received_at, :idempotency_key, :request_hash, :payload, 'accepted', 0)"
    " ON CONFLICT (reported_by_id, idempotency_key) DO NOTHING RETURNING id"
).bindparams(bindparam("received_at", type_=UTCDateTime()), bindparam("payload", type_=JSONType))


def accept(
    session: Session,
    actor: Actor,
    report: intake.SaleReport,
    *,
    catalogue: Catalogue,
    region: str,
    key: str | None,
    request_hash: str,
) -> tuple[SaleReceipt, bool]:
    """Check a sale and keep it as a receipt for the worker; (receipt, True when replayed).

    The same Idempotency-Key and body returns the first receipt, whatever became of it since;
    the same key with another body is refused (422), as on the synchronous path.
    """
    now = utcnow()
    inserted = (
        session.connection()
        .execute(
            _INSERT,
            {
                "reported_by_id": actor.user_id,
                "received_at": now,
                "idempotency_key": key,
                "request_hash": request_hash,
                "payload": report.to_json(),
            },
        )
        .scalar()
    )
    if inserted is None:  # the key was used before (or by a request committed just now)
        first = by_key(session, actor.user_id, key, request_hash)
        assert first is not None, "ON CONFLICT found a receipt under this key"
        return first, True
    # Checked after the INSERT so that a retry replays even if the sale would now be refused
    # (its serial number registered by the first attempt); a refusal rolls the INSERT back.
    intake.check_report(report, catalogue, region=region, now=now)
    intake.check_serials_free(session, report)
    receipt = SaleReceipt(
        id=inserted,
        reported_by_id=actor.user_id,
        received_at=now,
        idempotency_key=key,
        status=ReceiptStatus.ACCEPTED.value,
    )
    return receipt, False


def by_key(session: Session, user_id: int | None, key: str | None, request_hash: str) -> SaleReceipt | None:
    """The receipt kept under this caller's Idempotency-Key; KeyReused if it was another request."""
    first = session.scalars(
        select(SaleReceipt).where(SaleReceipt.reported_by_id == user_id, SaleReceipt.idempotency_key == key)
    ).first()
    if first is not None and first.request_hash != request_hash:
        raise KeyReused.by_another_request()
    return first


def _visible(actor: Actor) -> ColumnElement[bool]:
    """Sales staff see the receipts they reported; the call centre sees all."""
    if actor.role == Role.SALES:
        return SaleReceipt.reported_by_id == actor.user_id
    return true()


def sale_result(session: Session, sale_id: int) -> intake.SaleResult:
    """A registered sale as the synchronous path answers it."""
    sale = session.get(Sale, sale_id)
    if sale is None:
        raise NotFound(f"sale {sale_id} not found")
    first_sale = session.scalar(select(func.min(Sale.id)).where(Sale.customer_id == sale.customer_id))
    return intake.SaleResult(
        sale=sale,
        customer_created=first_sale == sale.id,
        units=list(session.scalars(select(Unit).where(Unit.sale_id == sale.id).order_by(Unit.id))),
        work_orders=list(
            session.scalars(select(WorkOrder).where(WorkOrder.sale_id == sale.id).order_by(WorkOrder.id))
        ),
    )


def get_receipt(session: Session, actor: Actor, receipt_id: int) -> ReceiptView:
    """One receipt the caller may see, with its sale once registered."""
    receipt = session.scalars(
        select(SaleReceipt).where(SaleReceipt.id == receipt_id, _visible(actor))
    ).first()
    if receipt is None:
        raise NotFound(f"sale receipt {receipt_id} not found")
    return ReceiptView(receipt, sale_result(session, receipt.sale_id) if receipt.sale_id else None)


def list_receipts(
    session: Session, actor: Actor, *, status: str | None, page: int, per_page: int
) -> tuple[list[ReceiptView], int]:
    """Receipts the caller may see, newest first, optionally of one status."""
    query = select(SaleReceipt).where(_visible(actor))
    if status:
        query = query.where(SaleReceipt.status == status)
    rows, total = paginate(session, query, (SaleReceipt.id.desc(),), page, per_page)
    return [ReceiptView(r) for r in rows], total


def register_waiting(session: Session, *, batch: int, region: str) -> RegisterReport:
    """Register up to `batch` accepted receipts, oldest first, each in a savepoint of its own.

    Rows are locked with SKIP LOCKED, so several workers share the backlog without taking the
    same receipt. A sale that can no longer be registered (its serial number registered by
    another sale meanwhile, a model removed) is `rejected` with the errors naming the fields; an
    unexpected failure leaves it `accepted` for the next pass, at most MAX_ATTEMPTS times.
    """
    report = RegisterReport()
    receipts = list(
        session.scalars(
            select(SaleReceipt)
            .where(SaleReceipt.status == ReceiptStatus.ACCEPTED, SaleReceipt.attempts < MAX_ATTEMPTS)
            .order_by(SaleReceipt.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )
    report.taken = len(receipts)
    users = {
        u.id: u
        for u in session.scalars(select(User).where(User.id.in_({r.reported_by_id for r in receipts})))
    }
    for receipt in receipts:
        user = users[receipt.reported_by_id]
        actor = Actor(user_id=user.id, role=user.role, provider_id=user.provider_id, name=user.name)
        try:
            with session.begin_nested():
                result = intake.report_sale(
                    session,
                    actor,
                    intake.SaleReport.from_json(receipt.payload),
                    region=region,
                    receipt_id=receipt.id,
                )
        except DomainError as error:
            receipt.status = ReceiptStatus.REJECTED.value
            receipt.errors = error.fields or {"sale": [error.message]}
            trail.record(
                session, actor, "sale_receipt", receipt.id, "rejected", data={"errors": receipt.errors}
            )
            report.rejected += 1
        except Exception as error:  # noqa: BLE001 - one bad receipt must not hold up the others
            receipt.attempts += 1
            receipt.last_error = f"{type(error).__name__}: {error}"[:1000]
            log.exception("sale receipt %s: registration failed (attempt %s)", receipt.id, receipt.attempts)
            report.failed += 1
            continue
        else:
            receipt.status = ReceiptStatus.REGISTERED.value
            receipt.sale_id = result.sale.id
            report.registered += 1
        receipt.processed_at = utcnow()
    return report


def waiting(session: Session) -> dict[str, Any]:
    """How many receipts wait, and since when (for health checks and operators)."""
    count, oldest = session.execute(
        select(func.count(), func.min(SaleReceipt.received_at)).where(
            SaleReceipt.status == ReceiptStatus.ACCEPTED
        )
    ).one()
    return {"waiting": int(count), "oldest_received_at": oldest}
