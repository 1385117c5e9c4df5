"""What the robot heard: kept with the attempt as evidence; an unclear answer is asked again, then
moves the callback on its ladder, and is never a verdict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.audit.callbacks.common import SYSTEM, _cfg, _lock_attempt
from dispatch.audit.callbacks.escalation import _attempt_not_answered, next_contact
from dispatch.models import (
    ContactAttempt,
    utcnow,
)
from dispatch.platform.errors import NotFound


def _keep_heard(attempt: ContactAttempt, heard: Mapping[str, Any]) -> None:
    # Reassign (not append) so the JSON column is seen as changed; the customer's words stay on
    # this row (erasable), never in the audit trail.
    entry = {**heard, "at": utcnow().isoformat()}
    if isinstance(entry.get("text"), str):
        entry["text"] = entry["text"][:500]
    attempt.heard = [*(attempt.heard or []), entry]
    if attempt.language is None and heard.get("language"):
        attempt.language = str(heard["language"])


def how_read(heard: Mapping[str, Any]) -> dict[str, Any]:
    """What the audit trail keeps of an answer heard: how it came and how it was read, never the
    customer's words (those stay on the attempt, where erasure reaches them)."""
    reading = str(heard.get("reading") or "")
    return {
        "question": heard.get("question"),
        "input": heard.get("input"),
        "read_as": reading.split(":", 1)[0] or None,
        "confidence": heard.get("confidence"),
        "result": heard.get("result"),
    }


def _heard_event(session: Session, attempt: ContactAttempt, heard: Mapping[str, Any]) -> None:
    trail.record(
        session,
        SYSTEM,
        "callback",
        attempt.callback_id,
        "answer_heard",
        data={"work_order_id": attempt.callback.work_order_id, "attempt_id": attempt.id, **how_read(heard)},
    )


def hear(session: Session, attempt_id: int, heard: Mapping[str, Any]) -> None:
    """Keep one answer heard on an attempt that goes on (the claim before the rating, a first try)."""
    attempt = _lock_attempt(session, attempt_id)
    if attempt is None:
        raise NotFound(f"attempt {attempt_id} not found")
    _keep_heard(attempt, heard)
    _heard_event(session, attempt, heard)
    session.flush()


def answer_unclear(
    session: Session,
    attempt_id: int,
    heard: Mapping[str, Any],
    *,
    final: bool | None = None,
    settings: Mapping[str, Any] | None = None,
) -> str | None:
    """An answer that could not be read: keep it; on the last try, move the callback on.

    Unclear is never a verdict. The customer is asked again once (by keys); the second unclear
    answer on the same attempt and question (or `final`) closes the attempt as not answered, and
    the callback goes on its ladder (next channel, or the callback team). Returns what comes next,
    "voice" | "sms" | "human", once it moved on; None while the question is asked again.
    """
    attempt = _lock_attempt(session, attempt_id)
    if attempt is None:
        raise NotFound(f"attempt {attempt_id} not found")
    _keep_heard(attempt, heard)
    _heard_event(session, attempt, heard)
    if final is None:
        same = [
            h for h in attempt.heard if h.get("question") == heard.get("question") and not h.get("result")
        ]
        final = len(same) >= 2
    if not final:
        session.flush()
        return None
    now = utcnow()
    _attempt_not_answered(session, attempt, "answer_unclear", now, _cfg(settings))
    session.flush()
    return next_contact(attempt.callback)
