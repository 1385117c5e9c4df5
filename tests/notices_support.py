"""Provider notices in tests: run the due booking and notice jobs in this process, as a worker would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import select

from dispatch import bookings
from dispatch.jobs import notices as notice_jobs
from dispatch.models import OutboxMessage, utcnow
from dispatch.platform import outbox
from dispatch.telephony import Gateway

JOBS = ("booking_changed", "deliver_notice")


def awake(settings) -> dict:
    """Settings without the providers' quiet hours: for a test that runs at the machine's time of day."""
    return {**settings, "PROVIDER_QUIET_HOURS": ""}


def run_due(session_factory, settings: dict, phone: Callable[[], Gateway]) -> list[str]:
    """Run every due booking/notice job (and what they request that is due) until none is left."""

    @contextmanager
    def sessions() -> Iterator:
        with session_factory() as session:
            yield session
            session.commit()

    ran: list[str] = []
    while True:
        with session_factory() as session:
            rows = session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.job.in_(JOBS),
                    OutboxMessage.dispatched_at.is_(None),
                    OutboxMessage.available_at <= utcnow(),
                )
                .order_by(OutboxMessage.id)
            ).all()
            todo = [(r.id, r.job, dict(r.payload)) for r in rows]
            for row in rows:
                row.dispatched_at = utcnow()
            session.commit()
        if not todo:
            return ran
        for row_id, job, payload in todo:
            if job == "booking_changed":
                with sessions() as session:
                    bookings.booking_changed(session, **payload, settings=settings)
                    outbox.mark_completed(session, row_id)
            else:
                notice_jobs.deliver(
                    payload["delivery_id"],
                    payload["attempt"],
                    settings=settings,
                    sessions=sessions,
                    plain=session_factory,
                    phone=phone,
                )
                with sessions() as session:
                    outbox.mark_completed(session, row_id)
            ran.append(job)
