"""The customer's answer, whatever the channel: the verdict it gives, recorded once and applied."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dispatch.audit import ledger, scorecards, verdicts
from dispatch.audit.callbacks.common import CS, _cfg, _lock, _lock_attempt, _next_seq, _note, _record
from dispatch.audit.callbacks.effects import _apply
from dispatch.audit.callbacks.heard import _keep_heard, how_read
from dispatch.models import (
    Callback,
    Channel,
    ContactAttempt,
    Rating,
    Verdict,
    utcnow,
)
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Conflict, Invalid, NotFound


@dataclass(frozen=True)
class CustomerAnswer:
    """What the customer said, whatever the channel.

    happened: for a not-home claim: "confirmed" (1), "nobody_came" (2), "rescheduled" (3);
              for the other not-completed reasons: "confirmed" (1), "disputed" (2), "rescheduled" (3);
              for a completed claim: "done" or "not_done"; for a status check: "done", "not_done",
              "rescheduled". (dispatch.audit.verdicts has the table.)
    rating:   "very_satisfied" | "satisfied" | "not_satisfied" | None
    """

    happened: str
    rating: str | None = None
    note: str | None = None


def _human_attempt(
    session: Session, callback: Callback, actor: Actor, now: datetime, **fields: Any
) -> ContactAttempt:
    """A callback-team agent's call to the customer, as the callback's next attempt."""
    attempt = ContactAttempt(
        callback_id=callback.id,
        seq=_next_seq(session, callback),
        channel=Channel.HUMAN.value,
        to_number=callback.phone,
        agent_user_id=actor.user_id,
        started_at=now,
        **fields,
    )
    session.add(attempt)
    return attempt


def record_answer(
    session: Session,
    callback_id: int,
    answer: CustomerAnswer,
    *,
    channel: str,
    actor: Actor,
    attempt_id: int | None = None,
    heard: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> str:
    """Store the customer's answer, reach the verdict, apply it (complaint, reopen, verify); returns it.

    `heard` is what the robot heard and how it read it, kept with the attempt as evidence. A second
    answer to a resolved callback changes nothing and returns the first verdict.
    """
    settings = _cfg(settings)
    callback = _lock(session, callback_id)
    if callback is None:
        raise NotFound(f"callback {callback_id} not found")
    if callback.state == CS.RESOLVED:
        return str(callback.verdict)
    if callback.state == CS.CANCELLED:
        raise Conflict(f"callback {callback.id} was cancelled")
    try:
        verdict = verdicts.decide(callback.claim, answer.happened)
    except verdicts.UnknownAnswer as exc:
        raise Invalid.field("happened", str(exc)) from None
    if answer.rating is not None and answer.rating not in Rating.__members__.values():
        raise Invalid.field("rating", f"unknown rating {answer.rating!r}")
    now = utcnow()
    attempt = None
    if attempt_id is not None:
        attempt = _lock_attempt(session, attempt_id)
        if attempt is None or attempt.callback_id != callback.id:
            raise Invalid.field("attempt_id", "is not an attempt of this callback")
    elif channel == Channel.HUMAN:
        attempt = _human_attempt(session, callback, actor, now, status="started", status_history=[])
    if attempt is not None:
        attempt.status = "answered"
        attempt.ended_at = attempt.ended_at or now
        attempt.answer_happened = answer.happened
        attempt.answer_rating = answer.rating
        if answer.note:
            attempt.answer_text = answer.note[:2000]
        if heard:
            _keep_heard(attempt, heard)
        _note(attempt, "answered", now, happened=answer.happened)
    return _resolve(
        session,
        callback,
        verdict,
        actor,
        now,
        settings,
        answer=answer,
        channel=channel,
        attempt_id=attempt.id if attempt is not None and attempt.id else None,
        heard=how_read(heard) if heard else None,
    )


def _resolve(
    session: Session,
    callback: Callback,
    verdict: Verdict,
    actor: Actor,
    now: datetime,
    settings: Mapping[str, Any],
    *,
    answer: CustomerAnswer | None,
    channel: str,
    attempt_id: int | None,
    heard: Mapping[str, Any] | None = None,
) -> str:
    before = callback.state
    callback.state = CS.RESOLVED.value
    callback.verdict = verdict.value
    callback.rating = answer.rating if answer else None
    callback.answer_happened = answer.happened if answer else None
    callback.answer_note = answer.note if answer else callback.answer_note
    callback.answer_channel = channel
    callback.resolved_at = now
    callback.lease_holder_id = None
    callback.lease_until = None
    callback.next_channel = None
    session.flush()
    _record(
        session,
        actor,
        callback,
        "verdict",
        before,
        verdict=verdict.value,
        claim=callback.claim,
        happened=callback.answer_happened,
        rating=callback.rating,
        channel=channel,
        attempt_id=attempt_id,
        provider_id=callback.provider_id,
        **({"heard": dict(heard)} if heard else {}),
    )
    order = _apply(session, callback, verdict, actor, now, settings)
    # In the verdict's own transaction: its figures on the scorecards (counted from the order
    # _apply holds locked, nothing read again), and what it earns or costs (a very-satisfied
    # job's bonus posted, a contradicted claim's fine proposed).
    scorecards.count_verdict(session, callback, order)
    ledger.on_verdict(session, callback, actor, now, settings)
    return verdict.value
