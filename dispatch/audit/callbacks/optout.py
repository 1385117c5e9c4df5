"""Opt-out: a number that said STOP gets no more automated calls or texts (START undoes it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.audit.callbacks.common import CS, FINAL, SYSTEM, _cfg, _latest_attempt, _note, _to_human
from dispatch.models import (
    Callback,
    OptOut,
    utcnow,
)
from dispatch.platform import personal


def is_opted_out(session: Session, phone_e164: str, settings: Mapping[str, Any] | None = None) -> bool:
    """Whether this number asked for no more automated calls or texts (also before an erasure)."""
    # An erased customer's refusal is kept as the number's digest alone: it still holds.
    phone_hash = personal.digest(phone_e164, _cfg(settings))
    found = select(OptOut.id).where(or_(OptOut.phone == phone_e164, OptOut.phone_hash == phone_hash))
    return session.scalar(found) is not None


def opt_out(
    session: Session, phone_e164: str, source: str, settings: Mapping[str, Any] | None = None
) -> None:
    """The number said STOP: no more calls or texts; its open callbacks go to the human queue."""
    settings = _cfg(settings)
    now = utcnow()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    phone_hash = personal.digest(phone_e164, settings)
    # The same number said STOP before its customer was erased: the refusal gets its number back.
    session.execute(
        update(OptOut).where(OptOut.phone_hash == phone_hash, OptOut.phone.is_(None)).values(phone=phone_e164)
    )
    row = session.execute(
        insert(OptOut)
        .values(phone=phone_e164, phone_hash=phone_hash, source=source[:40], created_at=now)
        .on_conflict_do_nothing()
        .returning(OptOut.id)
    ).first()
    if row is not None:
        # The trail can never be erased: the number only as its keyed digest (personal.py).
        trail.record(
            session, SYSTEM, "opt_out", row.id, "opted_out", data={"phone_hash": phone_hash, "source": source}
        )
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


def opt_in(session: Session, phone_e164: str, source: str, settings: Mapping[str, Any] | None = None) -> None:
    """START / UNSTOP: automated messages to this number are allowed again (nothing else changes)."""
    phone_hash = personal.digest(phone_e164, _cfg(settings))
    row = session.scalars(
        select(OptOut)
        .where(or_(OptOut.phone == phone_e164, OptOut.phone_hash == phone_hash))
        .with_for_update()
    ).first()
    if row is None:
        return
    trail.record(
        session, SYSTEM, "opt_out", row.id, "opted_in", data={"phone_hash": phone_hash, "source": source}
    )
    session.delete(row)
    session.flush()
