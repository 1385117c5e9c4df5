"""What every step of a callback shares: its states, the locks (callback first, then attempt),
the audit record, the outbox request for the next attempt, and the hand-over to the callback team."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, lazyload

from dispatch.audit import scheduling, trail
from dispatch.models import (
    Callback,
    CallbackState,
    Channel,
    ContactAttempt,
)
from dispatch.platform import outbox
from dispatch.platform.actors import Actor
from dispatch.platform.config import load_settings

log = logging.getLogger("dispatch.audit.callbacks")  # one logger for the whole package


JOB = "place_callback_attempt"


CS = CallbackState


OPEN = frozenset({CS.SCHEDULED, CS.IN_PROGRESS, CS.HUMAN_QUEUE, CS.CLAIMED})


SYSTEM = Actor.system("callbacks")


# Attempt statuses after which nothing more happens on that attempt.
FINAL = frozenset({"answered", "not_answered", "failed", "opted_out", "not_reached"})


def _cfg(settings: Mapping[str, Any] | None) -> Mapping[str, Any]:
    # Jobs pass runtime.settings(), views current_app.config; anything else reads the process's
    # configuration (defaults < TOML < DISPATCH_* environment), as the worker does; for timings
    # and channels only, so a process without the webhook signing secret may read it too.
    return settings if settings is not None else load_settings(webhooks=False)


def _tz(callback: Callback) -> str:
    return callback.work_order.customer.city.timezone


def _channels(settings: Mapping[str, Any]) -> list[str]:
    names = [c.strip() for c in str(settings["CALLBACK_CHANNELS"]).split(",") if c.strip()]
    bad = [c for c in names if c not in (Channel.VOICE, Channel.SMS)]
    if not names or bad:
        raise ValueError(
            f"CALLBACK_CHANNELS must list voice and/or sms, not {settings['CALLBACK_CHANNELS']!r}"
        )
    return names


def _channel_for(step: int, settings: Mapping[str, Any]) -> str:
    """The channel of automated attempt number `step` (0-based), cycling the configured order."""
    names = _channels(settings)
    return names[step % len(names)]


def _lock(session: Session, callback_id: int) -> Callback | None:
    # FOR UPDATE OF callbacks, and the callback's row alone: its order and provider (joined eager
    # loads elsewhere, ten tables deep) load on first use. Most callers never use them, and this
    # runs on every webhook: the joined graph was a third of a status webhook's CPU (py-spy).
    return session.scalars(
        select(Callback)
        .where(Callback.id == callback_id)
        .options(lazyload(Callback.work_order), lazyload(Callback.provider))
        .with_for_update(of=Callback)
        .execution_options(populate_existing=True)
    ).first()


def _lock_attempt(session: Session, attempt_id: int) -> ContactAttempt | None:
    """Lock an attempt, its callback first: every writer locks callback, then attempt (no deadlock)."""
    callback_id = session.scalar(select(ContactAttempt.callback_id).where(ContactAttempt.id == attempt_id))
    if callback_id is None:
        return None
    _lock(session, callback_id)
    return session.get(ContactAttempt, attempt_id, with_for_update=True, populate_existing=True)


def _note(attempt: ContactAttempt, status: str, at: datetime, **extra: Any) -> None:
    # Reassign (not append) so the JSON column is seen as changed.
    attempt.status_history = [
        *(attempt.status_history or []),
        {"status": status, "at": at.isoformat(), **extra},
    ]


def _record(
    session: Session, actor: Actor, callback: Callback, action: str, before: str | None, **data: Any
) -> None:
    trail.record(
        session,
        actor,
        "callback",
        callback.id,
        action,
        from_state=before,
        to_state=callback.state,
        data={"work_order_id": callback.work_order_id, **data},
    )


def _request_attempt(session: Session, callback: Callback, at: datetime, *, tag: str = "plan") -> None:
    """Write the outbox row that asks for this callback's next automated attempt at `at`."""
    step = callback.automated_attempts + 1
    outbox.put(
        session,
        JOB,
        {"callback_id": callback.id, "channel": callback.next_channel},
        available_at=at,
        dedupe_key=f"callback:{callback.id}:{step}:{tag}:{at:%Y%m%dT%H%M%S}",
    )
    callback.last_enqueued_at = at


def _latest_attempt(session: Session, callback: Callback) -> ContactAttempt | None:
    return session.scalars(
        select(ContactAttempt)
        .where(ContactAttempt.callback_id == callback.id)
        .order_by(ContactAttempt.seq.desc())
        .limit(1)
        .with_for_update()
    ).first()


def _next_seq(session: Session, callback: Callback) -> int:
    return (
        int(
            session.scalar(
                select(func.coalesce(func.max(ContactAttempt.seq), 0)).where(
                    ContactAttempt.callback_id == callback.id
                )
            )
        )
        + 1
    )


def _to_human(
    session: Session, callback: Callback, reason: str, now: datetime, settings: Mapping[str, Any]
) -> None:
    """Hand a callback to the callback team (due at the next calling time)."""
    before = callback.state
    callback.state = CS.HUMAN_QUEUE.value
    callback.escalation_reason = reason
    callback.next_channel = None
    callback.lease_holder_id = None
    callback.lease_until = None
    callback.due_at = scheduling.next_calling_time(now, _tz(callback), settings)
    session.flush()
    _record(session, SYSTEM, callback, "to_human_queue", before, reason=reason, due_at=callback.due_at)


def _advisory_lock(session: Session, key: int) -> bool:
    """A transaction-scoped lock so that two cron processes never both do the same pass."""
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: BEGIN IMMEDIATE already serialises writers
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}))
