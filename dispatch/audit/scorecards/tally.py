"""The live counters: each fact is counted in the transaction that records it.

The capabilities that record facts call `count_*` here (a dispatch in orders/booking.py, a closing
in visits.py, a verdict in audit/callbacks/answers.py, a complaint in audit/complaints.py). The
increments are queued on the session and written just before commit, one UPSERT per cell
(`INSERT .. ON CONFLICT DO UPDATE SET n = n + excluded.n`, one constant statement sent for all
the cells at once), so concurrent transactions counting in
the same cell both count. Writing them at commit, in the cells' sorted order, rather than at each
fact keeps the rows locked for the commit only and in one order for every writer: a sales batch
registering orders for several providers would otherwise lock cells in whatever order its sales
came, and two batches could deadlock. A rollback drops the queued increments (a savepoint's
rollback only those queued inside it, as the audit trail's events), so a count never outlives its
fact.

The queue (platform/at_commit.py, shared with the audit trail) is hooked on each session the
first time it counts something, after the session factory's own (the audit trail's): every
writer takes the trail's chain lock first and the cells after it, in one order. Counting takes
no savepoint and reads nothing the caller already holds (a verdict passes its locked order).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Date, bindparam, exists, select, text
from sqlalchemy.orm import Session

import dispatch.audit.scorecards.facts as rules
from dispatch.audit.scorecards.facts import Cell, Fact
from dispatch.models import (
    FIGURES,
    Callback,
    City,
    Complaint,
    Visit,
    WorkOrder,
)
from dispatch.platform.at_commit import AtCommit

_KEY = ("day", "provider_id", "city_id", "installer_id")
# One statement for every cell, built once: adding 0 to the figures a fact does not touch costs
# nothing the row's update does not already pay, and saves building a statement per cell (both
# PostgreSQL and SQLite >= 3.24 take INSERT .. ON CONFLICT .. DO UPDATE with `excluded`).
UPSERT = text(
    f"INSERT INTO scorecard_days ({', '.join((*_KEY, *FIGURES))}) "
    f"VALUES ({', '.join(f':{name}' for name in (*_KEY, *FIGURES))}) "
    f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET "
    + ", ".join(f"{name} = scorecard_days.{name} + excluded.{name}" for name in FIGURES)
).bindparams(bindparam("day", type_=Date()))


def _write_counts(session: Session, pending: list[tuple[Cell, tuple[str, ...]]]) -> None:
    """Write the queued increments, merged per cell, in the cells' order (at commit)."""
    merged: dict[Cell, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for cell, figures in pending:
        for name in figures:
            merged[cell][name] += 1
    add_many(session, merged)


# The increments queued by `count`, hooked on a session the first time it counts: after the
# factory's own hooks (the audit trail's), so every writer takes the chain lock, then the cells.
COUNTS: AtCommit[tuple[Cell, tuple[str, ...]]] = AtCommit("scorecard", _write_counts)
write_pending = COUNTS.write_pending


def count(session: Session, fact: Fact) -> None:
    """Queue a fact's increments; they are written in this transaction, at commit."""
    COUNTS.put(session, (fact.cell, fact.figures), hook=True)


def _place(session: Session, work_order_id: int, order: WorkOrder | None = None) -> dict[str, Any]:
    """The city a fact of the order counts in and its time zone (`city_id`, `timezone`); from
    `order` when the caller holds it (nothing read again but the city, from the identity map)."""
    city_id = order.city_id if order is not None and order.id == work_order_id else None
    if city_id is None:
        city_id = session.scalar(select(WorkOrder.city_id).where(WorkOrder.id == work_order_id))
    city = session.get(City, city_id) if city_id is not None else None
    if city is None:
        raise LookupError(f"the city of work order {work_order_id} not found")
    return {"city_id": city.id, "timezone": city.timezone}


def count_dispatch(session: Session, order: WorkOrder, at: datetime) -> None:
    """An order got its provider at `at` (the time of its audit event `create` or `assign`)."""
    if order.provider_id is None:
        return
    count(
        session,
        rules.dispatch_fact(
            work_order_id=order.id,
            provider_id=order.provider_id,
            at=at,
            **_place(session, order.id, order),
        ),
    )


def is_first_visit(session: Session, visit: Visit) -> bool:
    """Whether no earlier visit was reported for the visit's order."""
    earlier = exists().where(Visit.work_order_id == visit.work_order_id, Visit.id < visit.id)
    return not session.scalar(select(earlier))


def count_closing(session: Session, visit: Visit, order: WorkOrder) -> None:
    """A provider reported a visit (flushed: its id and closing time are set)."""
    place = _place(session, order.id, order)
    count(session, rules.closing_of(visit, first_visit=is_first_visit(session, visit), **place))


def count_verdict(session: Session, callback: Callback, order: WorkOrder | None = None) -> None:
    """A callback was resolved (its verdict, rating and resolved_at are set). `order`: the
    callback's work order when the caller holds it already (the verdict path has it locked), so
    the count reads nothing again."""
    if callback.provider_id is None or callback.verdict is None or callback.resolved_at is None:
        return
    count(session, rules.verdict_of(callback, **_place(session, callback.work_order_id, order)))


def count_complaint(session: Session, complaint: Complaint, installer_id: int | None) -> None:
    """A complaint was opened (flushed); `installer_id` is the installer of the contradicted visit."""
    count(session, rules.complaint_of(complaint, installer_id, **_place(session, complaint.work_order_id)))


def add(session: Session, cell: Cell, deltas: Mapping[str, int]) -> None:
    """Add `deltas` to one cell's counters: one UPSERT, right under concurrent writers."""
    add_many(session, {cell: deltas})


def add_many(session: Session, deltas: Mapping[Cell, Mapping[str, int]]) -> None:
    """Add to several cells' counters, in the cells' order (one order for every writer, so two
    transactions never wait on each other's cells crosswise)."""
    rows = [
        {
            "day": cell.day,
            "provider_id": cell.provider_id,
            "city_id": cell.city_id,
            "installer_id": cell.installer_id,
            **dict.fromkeys(FIGURES, 0),
            **deltas[cell],
        }
        for cell in sorted(deltas)
    ]
    if rows:
        session.execute(UPSERT, rows)
