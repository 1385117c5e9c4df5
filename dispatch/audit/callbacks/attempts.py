"""Automated attempts (called by the telephony side): started before anything is dialled, placed,
released or failed, and moved on by Twilio's status events (idempotent per sid and status)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from dispatch.audit import scheduling
from dispatch.audit.callbacks.common import (
    CS,
    FINAL,
    SYSTEM,
    _cfg,
    _latest_attempt,
    _lock,
    _lock_attempt,
    _next_seq,
    _note,
    _record,
    _request_attempt,
    _to_human,
    _tz,
    log,
)
from dispatch.audit.callbacks.escalation import _attempt_not_answered
from dispatch.audit.callbacks.optout import is_opted_out
from dispatch.audit.callbacks.prompts import _ATTEMPT_PROMPT, Prompt, _prompt_of
from dispatch.models import (
    Callback,
    CallbackPurpose,
    Channel,
    ContactAttempt,
    OrderState,
    UTCDateTime,
    utcnow,
)
from dispatch.platform.errors import NotFound

NON_ANSWER_STATUSES = frozenset({"busy", "no-answer", "failed", "canceled", "undelivered"})


SMS_OUT_STATUSES = frozenset({"sent", "delivered"})


def attempt_may_be_due(session: Session, callback_id: int, channel: str, now: datetime) -> bool:
    """False when start_attempt would surely start nothing (resolved, with the team, not yet due,
    another channel next); a read without locks, so that a repeated or stale job request does not
    wait for, and use up, a slot of the outbound rate limit. start_attempt still decides."""
    row = session.execute(
        select(Callback.state, Callback.next_channel, Callback.due_at).where(Callback.id == callback_id)
    ).first()
    if row is None:
        return False
    if row.state == CS.IN_PROGRESS:
        return True  # an attempt whose dial was refused for now (released) is made again
    return _due_on(row.state, row.next_channel, row.due_at, channel, now)


def _due_on(state: str, next_channel: str | None, due_at: datetime, channel: str, now: datetime) -> bool:
    """A scheduled callback whose next automated attempt is on `channel` and due by `now`."""
    return state == CS.SCHEDULED and next_channel == channel and due_at <= now


def start_attempt(
    session: Session, callback_id: int, channel: str, now: datetime, settings: Mapping[str, Any] | None = None
) -> int | None:
    """Create and return the id of the next attempt on `channel`, or None if none is due.

    None when: the callback is resolved, in the human queue, opted out, outside calling hours (it is
    then rescheduled), or the attempt this job was meant to make already exists. The caller commits
    before dialling. A released attempt (nothing was dialled) on the same channel is returned again.
    """
    settings = _cfg(settings)
    callback = _lock(session, callback_id)
    if callback is None:
        return None
    if callback.state == CS.IN_PROGRESS:
        latest = _latest_attempt(session, callback)
        if latest is not None and latest.status == "released" and latest.channel == channel:
            latest.status = "started"
            latest.started_at = now
            _note(latest, "restarted", now)
            session.flush()
            return latest.id
        return None  # an attempt is already out: never a second one at the same time
    if not _due_on(callback.state, callback.next_channel, callback.due_at, channel, now):
        return None  # done, with the team, or a stale/duplicate request: its own request is queued
    if callback.purpose == CallbackPurpose.STATUS_CHECK and callback.work_order.state != OrderState.BOOKED:
        before = callback.state
        callback.state = CS.CANCELLED.value
        callback.resolved_at = now
        _record(
            session, SYSTEM, callback, "cancelled", before, reason=f"order is {callback.work_order.state}"
        )
        return None
    if is_opted_out(session, callback.phone, settings):
        _to_human(session, callback, "opted_out", now, settings)
        return None
    tz = _tz(callback)
    if not scheduling.in_calling_hours(now, tz, settings):
        before = callback.state
        callback.due_at = scheduling.next_calling_time(now, tz, settings)
        _request_attempt(session, callback, callback.due_at)
        session.flush()
        _record(session, SYSTEM, callback, "deferred_to_calling_hours", before, due_at=callback.due_at)
        return None
    customer = callback.work_order.customer
    attempt = ContactAttempt(
        callback_id=callback.id,
        seq=_next_seq(session, callback),
        channel=channel,
        status="started",
        to_number=callback.phone,
        started_at=now,
        status_history=[],
        heard=[],
        language=customer.language or customer.city.language,
    )
    _note(attempt, "started", now)
    session.add(attempt)
    before = callback.state
    callback.state = CS.IN_PROGRESS.value
    callback.automated_attempts += 1
    session.flush()
    _record(
        session,
        SYSTEM,
        callback,
        "attempt_started",
        before,
        attempt_id=attempt.id,
        channel=channel,
        seq=attempt.seq,
    )
    return attempt.id


def dial_target(session: Session, attempt_id: int) -> tuple[str, Prompt]:
    """The number to dial or text for an attempt, and what to ask."""
    row = session.execute(_ATTEMPT_PROMPT.where(ContactAttempt.id == attempt_id)).first()
    if row is None:
        raise NotFound(f"attempt {attempt_id} not found")
    return row.to_number, _prompt_of(row)


def release_attempt(session: Session, attempt_id: int, error: str) -> None:
    """Nothing was dialled (the provider refused the request): the next start_attempt returns it again."""
    attempt = _lock_attempt(session, attempt_id)
    if attempt is None or attempt.status != "started" or attempt.provider_sid is not None:
        return
    attempt.status = "released"
    _note(attempt, "released", utcnow(), error=error[:300])
    session.flush()


def attempt_failed(
    session: Session, attempt_id: int, error: str, settings: Mapping[str, Any] | None = None
) -> None:
    """The provider refused for good (invalid number, ...): like a 'failed' status callback."""
    attempt = _lock_attempt(session, attempt_id)
    if attempt is None:
        return
    _attempt_not_answered(session, attempt, "provider_error", utcnow(), _cfg(settings))
    if attempt.status_history and attempt.status_history[-1].get("status") == "failed":
        attempt.status_history = [
            *attempt.status_history[:-1],
            {**attempt.status_history[-1], "error": error[:300]},
        ]
    session.flush()


def attempt_placed(session: Session, attempt_id: int, provider_sid: str) -> None:
    """Record the CallSid/MessageSid Twilio (or the simulator) gave an attempt (idempotent)."""
    # Every status and voice webhook links its sid again; once linked, a sid never changes, so
    # the usual case needs no lock (a plain read of one column).
    known = session.execute(
        select(ContactAttempt.provider_sid).where(ContactAttempt.id == attempt_id)
    ).first()
    if known is not None and known.provider_sid == provider_sid:
        return
    attempt = _lock_attempt(session, attempt_id)
    if attempt is None:
        raise NotFound(f"attempt {attempt_id} not found")
    if attempt.provider_sid == provider_sid:
        return
    if attempt.provider_sid is not None:
        log.warning(
            "attempt %s already has sid %s; ignoring %s", attempt.id, attempt.provider_sid, provider_sid
        )
        return
    now = utcnow()
    attempt.provider_sid = provider_sid
    attempt.placed_at = now
    if attempt.status in ("started", "released"):
        attempt.status = "placed"
    _note(attempt, "placed", now, sid=provider_sid)
    session.flush()


# SQL text: SQLAlchemy does not cache its dialect-specific ON CONFLICT inserts, and this runs on
# every status webhook (the same statement on PostgreSQL and SQLite 3.35+).
_FIRST_STATUS = text(
    "INSERT INTO attempt_status_events (provider_sid, status, received_at)"
    " VALUES (:sid, :status, :at) ON CONFLICT (provider_sid, status) DO NOTHING RETURNING id"
).bindparams(bindparam("at", type_=UTCDateTime()))


def _first_status(session: Session, provider_sid: str, status: str) -> bool:
    """Record (sid, status); False if it was already recorded (a repeated delivery)."""
    result = session.execute(_FIRST_STATUS, {"sid": provider_sid, "status": status, "at": utcnow()})
    return result.first() is not None


def attempt_status(
    session: Session,
    provider_sid: str,
    status: str,
    answered_by: str | None,
    settings: Mapping[str, Any] | None = None,
) -> None:
    """A status callback: idempotent by (sid, status); a non-answer escalates to the next step."""
    if not _first_status(session, provider_sid, status):
        return
    attempt_id = session.scalar(select(ContactAttempt.id).where(ContactAttempt.provider_sid == provider_sid))
    attempt = _lock_attempt(session, attempt_id) if attempt_id is not None else None
    if attempt is None:
        log.warning("status %s for unknown sid %s", status, provider_sid)
        return
    now = utcnow()
    _note(attempt, status, now, **({"answered_by": answered_by} if answered_by else {}))
    if answered_by:
        attempt.answered_by = answered_by
    if attempt.status in FINAL:
        session.flush()
        return
    machine = answered_by is not None and (answered_by.startswith("machine") or answered_by == "fax")
    if status in NON_ANSWER_STATUSES:
        _attempt_not_answered(session, attempt, status, now, _cfg(settings))
    elif machine:
        _attempt_not_answered(session, attempt, "machine", now, _cfg(settings))
    elif status == "completed" and attempt.channel == Channel.VOICE:
        # Picked up and hung up without choosing: no answer to go on.
        _attempt_not_answered(session, attempt, "hung_up_without_answer", now, _cfg(settings))
    elif attempt.channel == Channel.SMS and status in SMS_OUT_STATUSES:
        attempt.status = "awaiting_reply"
    elif status not in ("received", "completed"):
        attempt.status = status.replace("-", "_")[:24]
    session.flush()
