"""The jobs. Each takes ids, reloads fresh rows, makes one domain call, and is safe to run twice."""

from __future__ import annotations

import logging

from rq import Retry

from dispatch import bookings
from dispatch.audit import callbacks, trail
from dispatch.care import campaigns, invitations, maintenance
from dispatch.jobs.runtime import (
    OUTBOX_JOB_PREFIX,
    job_session,
    queue,
    redis_connection,
    session_factory,
    settings,
)
from dispatch.models import OutboxMessage
from dispatch.platform import outbox
from dispatch.sales import receipts

log = logging.getLogger(__name__)

# The jobs an outbox row may name: outbox.job -> function here.
REGISTRY: dict[str, str] = {
    # No longer requested (provider notices replaced it); rows a running system wrote still relay.
    "remind_provider": "dispatch.jobs.tasks.remind_provider",
    "booking_changed": "dispatch.jobs.tasks.booking_changed",
    "deliver_notice": "dispatch.jobs.notices.deliver_notice",
    "care_campaign_batch": "dispatch.jobs.tasks.care_campaign_batch",
    # Written by the telephony side (places the call or text of a verification callback).
    "place_callback_attempt": "dispatch.jobs.callbacks.place_callback_attempt",
    # A text to a customer (dispatch.outreach: confirmations, reminders, invitations).
    "send_customer_message": "dispatch.jobs.outreach.send_customer_message",
}
# RQ retries for jobs whose transient failures are safe to retry (nothing was sent).
RETRIES: dict[str, Retry] = {
    "place_callback_attempt": Retry(max=4, interval=[5, 30, 120, 600]),
    "send_customer_message": Retry(max=4, interval=[5, 30, 120, 600]),
}


def remind_provider(work_order_id: int, appointment_start: str) -> None:
    """Retired: queued by an older version of Dispatch. The provider notices planned for each
    booking version (`booking_changed`) tell the provider now; this only finishes the request."""
    with job_session():
        log.info("remind_provider for order %s retired: provider notices tell the provider", work_order_id)


def booking_changed(work_order_id: int, booking_version: int, action: str) -> None:
    """Tell whoever must hear of one version of an order's booking (once per version)."""
    with job_session() as session:
        bookings.booking_changed(session, work_order_id, booking_version, action, settings())


def care_daily() -> dict[str, int | None]:
    """Invite the owners of units coming due for maintenance (cron, daily; safe to run twice)."""
    with job_session() as session:
        recorded = maintenance.record_due(session)
    batch = settings()["CARE_INVITE_BATCH"]
    requested = 0
    while True:
        with job_session() as session:
            taken = invitations.invite_pending(session, batch=batch)
        requested += taken
        if taken < batch:
            return {"recorded": recorded, "requested": requested}


def care_campaign_batch(campaign_id: int, run_no: int, batch_no: int) -> int | None:
    """Contact one batch of a running campaign, and request the next (once per batch)."""
    with job_session() as session:
        return campaigns.run_batch(session, campaign_id, run_no, batch_no)


def register_sales() -> int:
    """Register the sales accepted with `Prefer: respond-async`, batch after batch (cron, every second)."""
    batch = settings()["SALE_REGISTER_BATCH"]
    taken = 0
    while True:
        with job_session() as session:
            report = receipts.register_waiting(
                session,
                batch=batch,
                region=settings()["DEFAULT_REGION"],
            )
        taken += report.taken
        if report.taken < batch or report.failed == report.taken:
            return taken


def sweep_callbacks() -> dict:
    """Re-request due verification callbacks, time out silent attempts, free expired leases (cron)."""
    with job_session() as session:
        report = callbacks.sweep(session, settings())
    return report.__dict__


def plan_status_checks() -> int:
    """Give booked orders still open after their booked day a status check (cron; once per day)."""
    with job_session() as session:
        return callbacks.plan_status_checks(session, settings())


def log_audit_anchor() -> str:
    """Write the audit trail's head (`SEQ:HASH`) to the log, hourly from `rq cron`.

    Logs leave the database host (journald, syslog, a log service), so they keep anchors that no
    one with the database alone can change: `dispatch audit verify --anchor SEQ:HASH` with one of
    them catches a cut-off tail or a rewritten and re-hashed chain.
    """
    with session_factory()() as session:
        seq, digest = trail.head(session)
    anchor = f"{seq}:{digest}"
    log.info("audit anchor %s (check with: dispatch audit verify --anchor %s)", anchor, anchor)
    return anchor


def _send_to_queue(connection):
    q = queue("default", connection=connection)

    def send(row: OutboxMessage) -> None:
        q.enqueue(
            REGISTRY[row.job],
            kwargs=row.payload,
            job_id=f"{OUTBOX_JOB_PREFIX}{row.id}",
            result_ttl=3600,
            failure_ttl=7 * 86400,
            retry=RETRIES.get(row.job),
        )

    return send


def relay_outbox() -> int:
    """Hand due outbox rows to RQ (run every second by `rq cron`, or `dispatch outbox relay`)."""
    connection = redis_connection()
    sent = 0
    while True:
        with job_session() as session:
            batch = outbox.relay(
                session,
                _send_to_queue(connection),
                batch=settings()["OUTBOX_BATCH"],
                redeliver_after=settings()["OUTBOX_REDELIVER_SECONDS"],
                max_deliveries=settings()["OUTBOX_MAX_DELIVERIES"],
            )
        sent += batch
        if batch < settings()["OUTBOX_BATCH"]:
            return sent
