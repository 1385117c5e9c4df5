"""Idempotency keys: a retried POST replays the first response instead of creating twice.

A key is claimed in its own short transaction, so a second request with the same key sees it at
once. The response is stored in the *same* transaction as the work it describes: either both are
committed or neither, so a crash can never leave a created record behind a key that looks unused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dispatch.models import IdempotencyRecord, utcnow
from dispatch.platform.errors import Conflict, DomainError

MAX_KEY_LENGTH = 255


class KeyReused(DomainError):
    """The key was used before with a different request."""

    status = 422

    @classmethod
    def by_another_request(cls) -> KeyReused:
        return cls(
            "this Idempotency-Key was used with a different request",
            {"Idempotency-Key": ["was used with a different request"]},
        )


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """A stable hash of what was asked: the same JSON in any key order hashes the same."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class Replay:
    status: int
    body: Any


def _first_answer(record: IdempotencyRecord, fingerprint: str) -> Replay | None:
    """The stored answer of a key's first request; KeyReused if this is another request."""
    if record.request_hash != fingerprint:
        raise KeyReused.by_another_request()
    if record.completed:
        return Replay(record.response_status or 200, record.response_body)
    return None


def claim(
    factory: sessionmaker[Session],
    user_id: int,
    key: str,
    fingerprint: str,
    *,
    lease_seconds: int,
    ttl_hours: int,
) -> Replay | None:
    """Take the key for this request (None), or return the stored response to replay.

    Raises KeyReused for the same key with another request, Conflict while another request
    holds the key. A holder that died releases the key when its lease runs out.
    """
    now = utcnow()
    with factory() as session:
        session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.expires_at < now,
            )
        )
        try:
            with session.begin_nested():
                session.add(
                    IdempotencyRecord(
                        user_id=user_id,
                        key=key,
                        request_hash=fingerprint,
                        locked_until=now + timedelta(seconds=lease_seconds),
                        expires_at=now + timedelta(hours=ttl_hours),
                    )
                )
            session.commit()
            return None
        except IntegrityError:
            pass
        record = session.scalars(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
            )
        ).one()
        replay = _first_answer(record, fingerprint)
        if replay is not None:
            return replay
        # An UPDATE's result is a cursor result, the one kind that counts rows.
        taken = cast(
            "CursorResult[Any]",
            session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.id == record.id, IdempotencyRecord.locked_until < now)
                .values(locked_until=now + timedelta(seconds=lease_seconds))
            ),
        ).rowcount
        session.commit()
        if taken:
            return None
        raise Conflict("a request with this Idempotency-Key is still being processed")


def stored(session: Session, user_id: int | None, key: str, fingerprint: str) -> Replay | None:
    """The response stored under a live key, for a path that keeps its keys elsewhere (sales with
    `Prefer: respond-async`): a key first used without that preference answers the same there.

    None when the key is unused or expired (or its request died before answering); raises
    KeyReused for another request, Conflict while the first one is still running.
    """
    record = session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.expires_at >= utcnow(),
        )
    ).first()
    if record is None:
        return None
    replay = _first_answer(record, fingerprint)
    if replay is not None:
        return replay
    if record.locked_until >= utcnow():
        raise Conflict("a request with this Idempotency-Key is still being processed")
    return None


def complete(session: Session, user_id: int, key: str, status: int, body: Any) -> None:
    """Store the response in the caller's transaction, with the work it describes."""
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
        .values(completed=True, response_status=status, response_body=body)
    )


def release(factory: sessionmaker[Session], user_id: int, key: str) -> None:
    """Free a key whose request failed, so that a retry runs it afresh."""
    with factory() as session:
        session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.completed.is_(False),
            )
        )
        session.commit()


def purge_expired(session: Session) -> int:
    """Delete keys past their time to live; returns how many."""
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < utcnow()))
    return cast("CursorResult[Any]", result).rowcount
