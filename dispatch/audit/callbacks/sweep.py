"""The periodic passes: a status check for booked orders left open after their day, and the sweep
that re-requests lost attempts, times out silent ones and frees abandoned leases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dispatch.audit import scheduling, verdicts
from dispatch.audit.callbacks.common import (
    CS,
    FINAL,
    SYSTEM,
    _advisory_lock,
    _cfg,
    _latest_attempt,
    _lock_attempt,
    _record,
    _request_attempt,
    log,
)
from dispatch.audit.callbacks.escalation import _attempt_not_answered
from dispatch.audit.callbacks.planning import _new_callback
from dispatch.models import (
    Callback,
    CallbackPurpose,
    Channel,
    ContactAttempt,
    OrderState,
    WorkOrder,
    utcnow,
)

_SWEEP_LOCK = 0x43425357  # "CBSW"


_STATUS_CHECK_LOCK = 0x43425343  # "CBSC"


def plan_status_checks(
    session: Session, settings: Mapping[str, Any] | None = None, *, now: datetime | None = None
) -> int:
    """Booked orders still open after the end of their booked (local) day get one status check."""
    settings = _cfg(settings)
    now = now or utcnow()
    if not _advisory_lock(session, _STATUS_CHECK_LOCK):
        return 0
    candidates = session.scalars(
        select(WorkOrder).where(
            WorkOrder.state == OrderState.BOOKED,
            WorkOrder.appointment_start <= now,
            # Look back far enough to cover any time zone's end of day, not for ever.
            WorkOrder.appointment_start > now - timedelta(days=3),
        )
    ).unique()
    planned = 0
    for order in candidates:
        start = order.appointment_start
        if start is None:  # never: the query asked for a start (this tells the type checker)
            continue
        tz = order.customer.city.timezone
        day = scheduling.local_day(start, tz)
        checkpoint = max(scheduling.end_of_day(day, tz, settings), order.appointment_end or start)
        if now < checkpoint:
            continue
        exists = session.scalar(
            select(Callback.id).where(
                Callback.work_order_id == order.id, Callback.check_day == day.isoformat()
            )
        )
        if exists is not None:
            continue
        _new_callback(
            session,
            settings,
            now,
            {"check_day": day.isoformat()},
            work_order_id=order.id,
            purpose=CallbackPurpose.STATUS_CHECK.value,
            check_day=day.isoformat(),
            claim=verdicts.STATUS_CHECK,
            claim_at=order.appointment_start,
            provider_id=order.provider_id,
            phone=order.customer.phone,
            due_at=scheduling.next_calling_time(now, tz, settings),
        )
        planned += 1
    return planned


@dataclass(frozen=True)
class SweepReport:
    locked_out: bool = False
    requeued: int = 0
    timed_out: int = 0
    leases_expired: int = 0


def sweep(
    session: Session, settings: Mapping[str, Any] | None = None, *, now: datetime | None = None
) -> SweepReport:
    """Re-request every due callback whose job request is stale; time out silent attempts; free
    abandoned leases. Redis is not the source of truth: this finds whatever a lost job left."""
    settings = _cfg(settings)
    now = now or utcnow()
    if not _advisory_lock(session, _SWEEP_LOCK):
        return SweepReport(locked_out=True)
    stale = now - timedelta(minutes=float(settings["CALLBACK_SWEEP_STALE_MINUTES"]))

    # Attempts that never reported back: a lost call, a worker killed before it knew, an unanswered text.
    timed_out = 0
    call_limit = now - timedelta(minutes=float(settings["CALLBACK_CALL_TIMEOUT_MINUTES"]))
    sms_limit = now - timedelta(minutes=float(settings["CALLBACK_SMS_REPLY_MINUTES"]))
    silent = session.scalars(
        select(ContactAttempt.id)
        .join(Callback, Callback.id == ContactAttempt.callback_id)
        .where(
            Callback.state == CS.IN_PROGRESS,
            ContactAttempt.channel != Channel.HUMAN,
            ContactAttempt.status.not_in(FINAL | {"released"}),
            or_(
                (ContactAttempt.channel == Channel.VOICE) & (ContactAttempt.started_at < call_limit),
                (ContactAttempt.channel == Channel.SMS) & (ContactAttempt.started_at < sms_limit),
                # A text that never left (no sid) is as lost as a call that never reported.
                (ContactAttempt.provider_sid.is_(None)) & (ContactAttempt.started_at < call_limit),
            ),
        )
        .order_by(ContactAttempt.id)
    ).all()
    for candidate_id in silent:
        attempt = _lock_attempt(session, candidate_id)
        if attempt is None or attempt.status in FINAL or attempt.status == "released":
            continue  # answered or moved on while we looked
        reason = "no_reply" if attempt.channel == Channel.SMS and attempt.provider_sid else "no_final_status"
        _attempt_not_answered(session, attempt, reason, now, settings)
        timed_out += 1

    # Leases nobody renewed: back to the queue.
    expired = 0
    for callback in session.scalars(
        select(Callback)
        .where(Callback.state == CS.CLAIMED, Callback.lease_until < now)
        .with_for_update(of=Callback, skip_locked=True)
    ).unique():
        before = callback.state
        holder = callback.lease_holder_id
        callback.state = CS.HUMAN_QUEUE.value
        callback.lease_holder_id = None
        callback.lease_until = None
        _record(session, SYSTEM, callback, "lease_expired", before, agent_user_id=holder)
        expired += 1

    # Due and waiting, with no recent job request (scheduled), or released and left (in progress).
    requeued = 0
    due = session.scalars(
        select(Callback)
        .where(
            Callback.due_at <= now,
            or_(Callback.last_enqueued_at.is_(None), Callback.last_enqueued_at < stale),
            or_(
                Callback.state == CS.SCHEDULED,
                (Callback.state == CS.IN_PROGRESS)
                & Callback.id.in_(
                    select(ContactAttempt.callback_id).where(ContactAttempt.status == "released")
                ),
            ),
        )
        .order_by(Callback.due_at, Callback.id)
        .with_for_update(of=Callback, skip_locked=True)
    ).unique()
    for callback in due:
        if callback.state == CS.IN_PROGRESS:
            latest = _latest_attempt(session, callback)
            if latest is None or latest.status != "released":
                continue
        _request_attempt(session, callback, now, tag="sweep")
        requeued += 1
    session.flush()
    if requeued or timed_out or expired:
        log.info(
            "callback sweep: %s re-requested, %s timed out, %s leases expired", requeued, timed_out, expired
        )
    return SweepReport(requeued=requeued, timed_out=timed_out, leases_expired=expired)
