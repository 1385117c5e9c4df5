"""The live counters: each fact is counted in the transaction that records it.

The capabilities that record facts call `count_*` here (a dispatch in orders/booking.py, a closing
in visits.py, a verdict in audit/callbacks/answers.py, a complaint in audit/complaints.py). The
increments are queued on the session and written just before commit, one UPSERT per cell
(`INSERT .. ON CONFLICT DO UPDATE SET n = n + excluded.n`), so concurrent transactions counting in
the same cell both count. Writing them at commit, in the cells' sorted order, rather than at each
fact keeps the rows locked for the commit only and in one order for every writer: a sales batch
registering orders for several providers would otherwise lock cells in whatever order its sales
came, and two batches could deadlock. A rollback drops the queued increments (a savepoint's
rollback only those queued inside it, as the audit trail's events), so a count never outlives its
fact.

The listeners are put on each session the first time it counts something, after the session
factory's own (the audit trail's `write_pending`): every writer takes the trail's chain lock
first and the cells after it, in one order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.event import listen
from sqlalchemy.orm import Session, SessionTransaction

from dispatch.audit.scorecards.facts import (
    NO_INSTALLER,
    Cell,
    Fact,
    closing_fact,
    complaint_fact,
    dispatch_fact,
    verdict_fact,
)
from dispatch.models import (
    FIGURES,
    Callback,
    City,
    Complaint,
    ScorecardDay,
    Visit,
    WorkOrder,
)

_PENDING = "scorecard_pending"
_MARKS = "scorecard_savepoint_marks"
_HOOKED = "scorecard_hooked"


def count(session: Session, fact: Fact) -> None:
    """Queue a fact's increments; they are written in this transaction, at commit."""
    if not session.info.get(_HOOKED):
        listen(session, "before_commit", write_pending)
        listen(session, "after_transaction_create", _mark_savepoint)
        listen(session, "after_soft_rollback", _discard_pending)
        listen(session, "after_transaction_end", _forget_savepoints)
        session.info[_HOOKED] = True
    session.info.setdefault(_PENDING, []).append((fact.cell, fact.figures))


def _timezone(session: Session, city_id: int) -> str:
    city = session.get(City, city_id)
    if city is None:
        raise LookupError(f"city {city_id} not found")
    return city.timezone


def count_dispatch(session: Session, order: WorkOrder, at: datetime) -> None:
    """An order got its provider at `at` (the time of its audit event `create` or `assign`)."""
    if order.provider_id is None:
        return
    count(
        session,
        dispatch_fact(
            work_order_id=order.id,
            provider_id=order.provider_id,
            city_id=order.city_id,
            timezone=_timezone(session, order.city_id),
            at=at,
        ),
    )


def is_first_visit(session: Session, visit: Visit) -> bool:
    """Whether no earlier visit was reported for the visit's order."""
    earlier = exists().where(Visit.work_order_id == visit.work_order_id, Visit.id < visit.id)
    return not session.scalar(select(earlier))


def count_closing(session: Session, visit: Visit, order: WorkOrder) -> None:
    """A provider reported a visit (flushed: its id and closing time are set)."""
    count(
        session,
        closing_fact(
            visit_id=visit.id,
            work_order_id=order.id,
            provider_id=visit.provider_id,
            city_id=order.city_id,
            installer_id=visit.installer_id,
            timezone=_timezone(session, order.city_id),
            closed_at=visit.closed_at,
            outcome=visit.outcome,
            reason=visit.reason,
            first_visit=is_first_visit(session, visit),
        ),
    )


def count_verdict(session: Session, callback: Callback) -> None:
    """A callback was resolved (its verdict, rating and resolved_at are set)."""
    if callback.provider_id is None or callback.verdict is None or callback.resolved_at is None:
        return
    city_id = session.scalar(select(WorkOrder.city_id).where(WorkOrder.id == callback.work_order_id))
    if city_id is None:
        raise LookupError(f"work order {callback.work_order_id} not found")
    count(
        session,
        verdict_fact(
            callback_id=callback.id,
            work_order_id=callback.work_order_id,
            provider_id=callback.provider_id,
            city_id=city_id,
            installer_id=callback.installer_id or NO_INSTALLER,
            timezone=_timezone(session, city_id),
            resolved_at=callback.resolved_at,
            verdict=callback.verdict,
            claim=callback.claim,
            rating=callback.rating,
        ),
    )


def count_complaint(session: Session, complaint: Complaint, installer_id: int | None) -> None:
    """A complaint was opened (flushed); `installer_id` is the installer of the contradicted visit."""
    city_id = session.scalar(select(WorkOrder.city_id).where(WorkOrder.id == complaint.work_order_id))
    if city_id is None:
        raise LookupError(f"work order {complaint.work_order_id} not found")
    count(
        session,
        complaint_fact(
            complaint_id=complaint.id,
            work_order_id=complaint.work_order_id,
            provider_id=complaint.provider_id,
            city_id=city_id,
            installer_id=installer_id or NO_INSTALLER,
            timezone=_timezone(session, city_id),
            created_at=complaint.created_at,
        ),
    )


def add(session: Session, cell: Cell, deltas: Mapping[str, int]) -> None:
    """Add `deltas` to one cell's counters: one UPSERT, right under concurrent writers."""
    values = {
        "day": cell.day,
        "provider_id": cell.provider_id,
        "city_id": cell.city_id,
        "installer_id": cell.installer_id,
        **dict.fromkeys(FIGURES, 0),
        **deltas,
    }
    table = ScorecardDay.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(ScorecardDay) if dialect == "postgresql" else sqlite.insert(ScorecardDay)
    statement = insert.values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["day", "provider_id", "city_id", "installer_id"],
        set_={name: table.c[name] + statement.excluded[name] for name in deltas},
    )
    session.execute(statement)


def write_pending(session: Session) -> None:
    """Write the queued increments, merged per cell, in the cells' order (before_commit)."""
    if session.in_nested_transaction():
        return  # a savepoint's release: the outer commit writes
    pending: list[tuple[Cell, tuple[str, ...]]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    merged: dict[Cell, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for cell, figures in pending:
        for name in figures:
            merged[cell][name] += 1
    for cell in sorted(merged):
        add(session, cell, merged[cell])


def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[transaction] = len(session.info.get(_PENDING, ()))


def _discard_pending(session: Session, transaction: SessionTransaction) -> None:
    # As dispatch.audit.trail.discard_pending: up to the first savepoint, or everything. A
    # savepoint that began before this session first counted has no mark: everything queued
    # was queued inside it.
    boundary: SessionTransaction | None = transaction
    while boundary is not None and not boundary.nested and boundary.parent is not None:
        boundary = boundary.parent
    mark = session.info.get(_MARKS, {}).get(boundary) if boundary is not None and boundary.nested else None
    if mark is None:
        session.info.pop(_PENDING, None)
    else:
        del session.info.get(_PENDING, [])[mark:]


def _forget_savepoints(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_MARKS, None)
        session.info.pop(_PENDING, None)
