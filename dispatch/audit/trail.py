"""The tamper-evident audit trail.

Every change appends an event in the same transaction as the change. Events are chained: each
carries the SHA-256 of its own content and the previous event's hash, so altering, removing or
reordering any event breaks the chain from that point on, and `verify_chain` names where.

Events are queued on the session and written just before commit, under a lock that orders the
chain (PostgreSQL: a transaction-scoped advisory lock; SQLite: BEGIN IMMEDIATE already holds the
database's write lock). Holding the lock only for the final insert and the commit keeps writers
from queueing behind each other for the whole transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from dispatch.models import AuditEvent, utcnow
from dispatch.platform.actors import Actor
from dispatch.platform.at_commit import AtCommit

GENESIS = "0" * 64
_CHAIN_LOCK_ID = 0x44495350  # "DISP": one advisory lock orders the whole chain


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose commits write the queued audit events; objects stay readable after
    commit (views dump after commit). Every session of Dispatch comes from here."""
    factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
    # A savepoint's rollback drops only the events queued inside it (not the whole batch's).
    EVENTS.install(factory)
    return factory


def record(
    session: Session,
    actor: Actor,
    entity: str,
    entity_id: int,
    action: str,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Queue an audit event; it is written in the same transaction, at commit. Returns it (its
    `occurred_at` is the time of the change; `seq` and `hash` are set at commit)."""
    if entity_id is None:
        raise ValueError("flush the entity before recording an event about it")
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_user_id=actor.user_id,
        actor=actor.label,
        entity=entity,
        entity_id=entity_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        data=_plain(data or {}),
    )
    EVENTS.put(session, event)
    return event


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe copy: datetimes and enums become strings, so the hash is reproducible."""
    return json.loads(json.dumps(data, default=_jsonable, sort_keys=True))


def _jsonable(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def event_digest(event: AuditEvent, prev_hash: str) -> str:
    """The hash of an event's content chained to the previous event's hash."""
    body = {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_user_id": event.actor_user_id,
        "actor": event.actor,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "action": event.action,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "data": event.data,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _write_events(session: Session, pending: list[AuditEvent]) -> None:
    """Chain and insert the queued events, at the outermost commit (not a savepoint's release:
    taking the chain lock mid-transaction and holding it to the end serialised every writer,
    measured by scripts/bench: intake flat at any concurrency)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_ID})
    seq, prev = head(session)
    for event in pending:
        seq += 1
        event.seq = seq
        event.prev_hash = prev
        event.hash = prev = event_digest(event, prev)
        session.add(event)
    session.flush()


# The events queued by `record`, written by every session of the factory at its commit.
EVENTS: AtCommit[AuditEvent] = AtCommit("audit", _write_events)
write_pending = EVENTS.write_pending


def head(session: Session) -> tuple[int, str]:
    """The last event's (seq, hash): (0, GENESIS) for an empty trail. As `SEQ:HASH`, an anchor."""
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (last.seq, last.hash) if last else (0, GENESIS)


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_seq: int | None
    reason: str | None
    head_hash: str = GENESIS  # the last good event's hash: record it to detect a cut-off tail

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Recompute every hash in order; report the first event that does not match."""
    prev, expected_seq, checked = GENESIS, 1, 0
    last_seq = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last_seq).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return ChainReport(checked, None, None, prev)
        for event in rows:
            if event.seq != expected_seq:
                return ChainReport(checked, expected_seq, f"event {expected_seq} is missing")
            if event.prev_hash != prev:
                return ChainReport(checked, event.seq, "prev_hash does not match the event before")
            if event_digest(event, prev) != event.hash:
                return ChainReport(checked, event.seq, "content does not match its hash")
            prev, expected_seq, last_seq = event.hash, expected_seq + 1, event.seq
            checked += 1
        session.expunge_all()


def history(session: Session, entity: str, entity_id: int) -> list[AuditEvent]:
    """Every event about one thing, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_id)
            .order_by(AuditEvent.seq)
        )
    )


def history_of_many(session: Session, entity: str, ids: list[int]) -> dict[int, list[AuditEvent]]:
    """Events about several things of one kind, oldest first, grouped by id."""
    grouped: dict[int, list[AuditEvent]] = {i: [] for i in ids}
    if not ids:
        return grouped
    for event in session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity == entity, AuditEvent.entity_id.in_(ids))
        .order_by(AuditEvent.seq)
    ):
        grouped[event.entity_id].append(event)
    return grouped
