"""The outbox: job requests committed with the change that implies them, relayed to the queue.

Redis is not the source of truth. A row here is written in the same transaction as the sale,
closing or booking that needs the job, so a job can be late but never lost. The relay hands due
rows to the queue and marks them dispatched; the job marks its row completed in the transaction
of its own work. A row dispatched but not completed after `redeliver_after` seconds (Redis lost
the job: restarted without persistence, flushed, failed over) is handed over again, up to
`max_deliveries` times. A job may therefore run twice, and every job is written to be safe to
run twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, text, update
from sqlalchemy.orm import Session

from dispatch.models import JSONType, OutboxMessage, UTCDateTime, utcnow

Send = Callable[[OutboxMessage], None]

# Every job an outbox row may request; the jobs package maps each to its RQ function.
JOBS = frozenset(
    {
        "place_callback_attempt",
        "booking_changed",
        "deliver_notice",
        "send_customer_message",
        "care_campaign_batch",
    }
)


# Written as SQL (the same on PostgreSQL and SQLite 3.35+): SQLAlchemy cannot cache the compiled
# form of its dialect-specific ON CONFLICT inserts, and compiling one costs more than running it.
_PUT = text(
    "INSERT INTO outbox (job, payload, available_at, dedupe_key, created_at, relay_attempts, deliveries)"
    " VALUES (:job, :payload, :available_at, :dedupe_key, :created_at, 0, 0)"
    " ON CONFLICT (dedupe_key) DO NOTHING"
).bindparams(
    bindparam("payload", type_=JSONType),
    bindparam("available_at", type_=UTCDateTime()),
    bindparam("created_at", type_=UTCDateTime()),
)


def put(
    session: Session,
    job: str,
    payload: dict[str, Any],
    *,
    available_at: datetime | None = None,
    dedupe_key: str | None = None,
) -> None:
    """Request a job in the caller's transaction; a repeated dedupe_key is ignored."""
    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}")
    now = utcnow()
    session.execute(
        _PUT,
        {
            "job": job,
            "payload": payload,
            "available_at": available_at or now,
            "dedupe_key": dedupe_key,
            "created_at": now,
        },
    )


def relay(
    session: Session,
    send: Send,
    *,
    batch: int = 200,
    now: datetime | None = None,
    redeliver_after: float = 600,
    max_deliveries: int = 5,
) -> int:
    """Hand due rows to `send` and mark them; returns how many were handed over.

    Due: never handed over and available, or handed over `redeliver_after` seconds ago and still
    not completed (fewer than `max_deliveries` times). Stops at the first failure (the queue is
    down): that row and the rest stay for the next pass. Concurrent relays skip each other's rows
    (FOR UPDATE SKIP LOCKED on PostgreSQL).
    """
    now = now or utcnow()
    lost = (
        OutboxMessage.completed_at.is_(None)
        & (OutboxMessage.dispatched_at < now - timedelta(seconds=redeliver_after))
        & (OutboxMessage.deliveries < max_deliveries)
    )
    fresh = OutboxMessage.dispatched_at.is_(None) & (OutboxMessage.available_at <= now)
    rows = session.scalars(
        select(OutboxMessage)
        .where(or_(fresh, lost))
        .order_by(OutboxMessage.available_at, OutboxMessage.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    sent = 0
    for row in rows:
        try:
            send(row)
        except Exception as exc:  # noqa: BLE001 - any failure of the queue leaves the row due
            row.relay_attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}"[:500]
            break
        row.dispatched_at = utcnow()
        row.deliveries += 1
        sent += 1
    session.flush()
    return sent


def mark_completed(session: Session, outbox_id: int) -> None:
    """The job of this row has done its work (called in the job's own transaction)."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.completed_at.is_(None))
        .values(completed_at=utcnow())
    )


def pending_count(session: Session) -> int:
    """How many job requests are due and not yet handed to the queue."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.dispatched_at.is_(None), OutboxMessage.available_at <= utcnow())
        )
        or 0
    )
