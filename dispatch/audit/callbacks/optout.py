"""Opt-out for the verification callbacks: a number that said STOP gets no more automated calls or
texts (START undoes it). The refusal itself, with its evidence, is the one record every channel
reads (dispatch/outreach/consent.py); here, its effect on the callbacks: their open ones go to the
human queue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit.callbacks.common import CS, FINAL, _cfg, _latest_attempt, _note, _to_human
from dispatch.models import Callback, utcnow
from dispatch.outreach import consent


def is_opted_out(session: Session, phone_e164: str, settings: Mapping[str, Any] | None = None) -> bool:
    """Whether this number asked for no more automated calls or texts (also before an erasure)."""
    return consent.is_opted_out(session, phone_e164, _cfg(settings))


def _channel_and_keyword(source: str, default_keyword: str) -> tuple[str, str]:
    # "sms:STOP" -> ("sms", "STOP"); "sms" -> ("sms", default_keyword).
    channel, _, keyword = source.partition(":")
    return channel or "unknown", keyword or default_keyword


def opt_out(
    session: Session,
    phone_e164: str,
    source: str,
    settings: Mapping[str, Any] | None = None,
    *,
    words: str | None = None,
    message_sid: str | None = None,
) -> None:
    """The number said STOP: no more calls or texts; its open callbacks go to the human queue."""
    settings = _cfg(settings)
    channel, keyword = _channel_and_keyword(source, "STOP")
    consent.refuse(
        session, phone_e164, channel=channel, keyword=keyword, words=words, message_sid=message_sid,
        settings=settings,
    )  # fmt: skip
    now = utcnow()
    for callback in session.scalars(
        select(Callback)
        .where(Callback.phone == phone_e164, Callback.state.in_([CS.SCHEDULED, CS.IN_PROGRESS]))
        .order_by(Callback.id)
        .with_for_update(of=Callback)
    ).unique():
        latest = _latest_attempt(session, callback)
        if latest is not None and latest.status not in FINAL:
            latest.status = "opted_out"
            latest.ended_at = now
            _note(latest, "opted_out", now, source=source)
        _to_human(session, callback, "opted_out", now, settings)


def opt_in(
    session: Session,
    phone_e164: str,
    source: str,
    settings: Mapping[str, Any] | None = None,
    *,
    words: str | None = None,
    message_sid: str | None = None,
) -> None:
    """START / UNSTOP: automated messages to this number are allowed again (nothing else changes)."""
    channel, keyword = _channel_and_keyword(source, "START")
    consent.consent(
        session, phone_e164, channel=channel, keyword=keyword, words=words, message_sid=message_sid,
        settings=_cfg(settings),
    )  # fmt: skip
