"""The escalation ladder: an automated attempt without an answer moves its callback to the next
channel later, or, after the last automated attempt (or an opt-out), to the callback team."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dispatch.audit import scheduling, trail
from dispatch.audit.callbacks.common import (
    CS,
    FINAL,
    SYSTEM,
    _channel_for,
    _latest_attempt,
    _note,
    _record,
    _request_attempt,
    _to_human,
    _tz,
)
from dispatch.audit.callbacks.optout import is_opted_out
from dispatch.models import (
    Callback,
    ContactAttempt,
)


def _next_step(
    session: Session, callback: Callback, reason: str, now: datetime, settings: Mapping[str, Any]
) -> None:
    """After an automated attempt without an answer: the next channel later, or the human queue."""
    if callback.automated_attempts >= int(settings["CALLBACK_MAX_AUTOMATED_ATTEMPTS"]):
        _to_human(
            session,
            callback,
            f"no answer after {callback.automated_attempts} automated attempts",
            now,
            settings,
        )
        return
    if is_opted_out(session, callback.phone, settings):
        _to_human(session, callback, "opted_out", now, settings)
        return
    before = callback.state
    callback.state = CS.SCHEDULED.value
    callback.next_channel = _channel_for(callback.automated_attempts, settings)
    callback.due_at = scheduling.after(now, settings["CALLBACK_RETRY_MINUTES"], _tz(callback), settings)
    _request_attempt(session, callback, callback.due_at)
    session.flush()
    _record(
        session,
        SYSTEM,
        callback,
        "retry_scheduled",
        before,
        reason=reason,
        channel=callback.next_channel,
        due_at=callback.due_at,
    )


def _attempt_not_answered(
    session: Session, attempt: ContactAttempt, reason: str, now: datetime, settings: Mapping[str, Any]
) -> None:
    """Close an automated attempt as not answered and move its callback on (if it is the current one)."""
    if attempt.status in FINAL:
        return
    attempt.status = "failed" if reason in ("failed", "undelivered", "provider_error") else "not_answered"
    attempt.ended_at = now
    _note(attempt, attempt.status, now, reason=reason)
    callback = attempt.callback  # locked by the caller (_lock_attempt)
    latest = _latest_attempt(session, callback)
    if callback.state != CS.IN_PROGRESS or latest is None or latest.id != attempt.id:
        session.flush()
        return  # the callback has moved on (answered by text, opted out, ...)
    trail.record(
        session,
        SYSTEM,
        "callback",
        callback.id,
        "attempt_not_answered",
        data={"attempt_id": attempt.id, "channel": attempt.channel, "reason": reason},
    )
    _next_step(session, callback, reason, now, settings)


def next_contact(callback: Callback) -> str:
    """Who contacts the customer next: "voice" or "sms" (the robot again), or "human"."""
    if callback.state == CS.SCHEDULED and callback.next_channel:
        return str(callback.next_channel)
    return "human"
