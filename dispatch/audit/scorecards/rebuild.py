"""The raw records behind the scorecards, read again: the facts of a range of local days, and the
rebuild of the daily aggregates from them (`dispatch scorecards rebuild`).

The raw records: the audit trail's `create` and `assign` events of work orders (when an order got
its provider), the visits (closings), the resolved callbacks (verdicts) and the complaints. The
same rules as the live counters apply to them (facts.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, Select, and_, delete, exists, func, select, text
from sqlalchemy.orm import Session, aliased

from dispatch.audit.scorecards import tally
from dispatch.audit.scorecards.facts import Cell, Fact, closing_of, complaint_of, dispatch_fact, verdict_of
from dispatch.models import (
    AuditEvent,
    Callback,
    CallbackState,
    City,
    Complaint,
    ScorecardDay,
    Visit,
    WorkOrder,
)
from dispatch.platform.db import is_postgres

# Local days reach at most 14 hours ahead of UTC and 12 behind: a day's records lie within a UTC
# window one day wider on each side.
_MARGIN = timedelta(days=1)


def _window(first: date, last: date) -> tuple[datetime, datetime]:
    start = datetime.combine(first, time.min, UTC) - _MARGIN
    end = datetime.combine(last + timedelta(days=1), time.min, UTC) + _MARGIN
    return start, end


def facts(
    session: Session,
    first: date,
    last: date,
    *,
    provider_id: int | None = None,
    sources: frozenset[str] | None = None,
) -> Iterator[Fact]:
    """Every fact whose local day lies in [first, last], from the raw records (optionally of one
    provider, or of some sources only: dispatch, closing, verdict, complaint)."""
    start, end = _window(first, last)
    wanted = sources or frozenset({"dispatch", "closing", "verdict", "complaint"})
    found: Iterator[Fact] = iter(())
    if "dispatch" in wanted:
        found = _chain(found, _dispatches(session, start, end, provider_id))
    if "closing" in wanted:
        found = _chain(found, _closings(session, start, end, provider_id))
    if "verdict" in wanted:
        found = _chain(found, _verdicts(session, start, end, provider_id))
    if "complaint" in wanted:
        found = _chain(found, _complaints(session, start, end, provider_id))
    for fact in found:
        if first <= fact.cell.day <= last:
            yield fact


def _chain(*parts: Iterator[Fact]) -> Iterator[Fact]:
    for part in parts:
        yield from part


def _dispatches(session: Session, start: datetime, end: datetime, provider_id: int | None) -> Iterator[Fact]:
    rows = session.execute(
        select(AuditEvent.occurred_at, AuditEvent.data, WorkOrder.id, WorkOrder.city_id, City.timezone)
        .join(WorkOrder, WorkOrder.id == AuditEvent.entity_id)
        .join(City, City.id == WorkOrder.city_id)
        .where(
            AuditEvent.entity == "work_order",
            AuditEvent.action.in_(("create", "assign")),
            AuditEvent.occurred_at >= start,
            AuditEvent.occurred_at < end,
        )
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=2000)
    )
    for at, data, order_id, city_id, timezone in rows:
        provider = (data or {}).get("provider_id")
        if provider is None or (provider_id is not None and provider != provider_id):
            continue
        yield dispatch_fact(
            work_order_id=order_id, provider_id=int(provider), city_id=city_id, timezone=timezone, at=at
        )


def _located(
    session: Session, query: Select, order_id: Any, provider_column: Any, provider_id: int | None
) -> Iterator[Row]:
    """The rows of a raw-record query with its order's `city_id` and `timezone` (of one provider
    when given), streamed in batches."""
    query = (
        query.add_columns(WorkOrder.city_id, City.timezone)
        .join(WorkOrder, WorkOrder.id == order_id)
        .join(City, City.id == WorkOrder.city_id)
    )
    if provider_id is not None:
        query = query.where(provider_column == provider_id)
    return iter(session.execute(query.execution_options(yield_per=2000)))


def _closings(session: Session, start: datetime, end: datetime, provider_id: int | None) -> Iterator[Fact]:
    earlier = aliased(Visit)
    first_visit = ~exists().where(earlier.work_order_id == Visit.work_order_id, earlier.id < Visit.id)
    query = (
        select(Visit, first_visit.label("first_visit"))
        .where(Visit.closed_at >= start, Visit.closed_at < end)
        .order_by(Visit.id)
    )
    for row in _located(session, query, Visit.work_order_id, Visit.provider_id, provider_id):
        yield closing_of(
            row.Visit, city_id=row.city_id, timezone=row.timezone, first_visit=bool(row.first_visit)
        )


def _verdicts(session: Session, start: datetime, end: datetime, provider_id: int | None) -> Iterator[Fact]:
    query = (
        select(
            Callback.id,
            Callback.work_order_id,
            Callback.provider_id,
            Callback.installer_id,
            Callback.resolved_at,
            Callback.verdict,
            Callback.claim,
            Callback.rating,
        )
        .where(
            Callback.state == CallbackState.RESOLVED,
            Callback.verdict.is_not(None),
            Callback.provider_id.is_not(None),
            Callback.resolved_at >= start,
            Callback.resolved_at < end,
        )
        .order_by(Callback.id)
    )
    for row in _located(session, query, Callback.work_order_id, Callback.provider_id, provider_id):
        yield verdict_of(row, city_id=row.city_id, timezone=row.timezone)


def _complaints(session: Session, start: datetime, end: datetime, provider_id: int | None) -> Iterator[Fact]:
    query = (
        select(
            Complaint.id,
            Complaint.work_order_id,
            Complaint.provider_id,
            Complaint.created_at,
            Callback.installer_id,
        )
        .outerjoin(Callback, Callback.id == Complaint.callback_id)
        .where(Complaint.created_at >= start, Complaint.created_at < end)
        .order_by(Complaint.id)
    )
    for row in _located(session, query, Complaint.work_order_id, Complaint.provider_id, provider_id):
        yield complaint_of(row, row.installer_id, city_id=row.city_id, timezone=row.timezone)


@dataclass(frozen=True)
class RebuildReport:
    first: date | None
    last: date | None
    facts: int
    rows: int


def data_range(session: Session) -> tuple[date, date] | None:
    """The first and last local day any raw record can fall on (UTC dates, one day wider), or None."""
    bounds: list[tuple[datetime | None, datetime | None]] = []
    for low_high in (
        select(func.min(AuditEvent.occurred_at), func.max(AuditEvent.occurred_at)).where(
            AuditEvent.entity == "work_order", AuditEvent.action.in_(("create", "assign"))
        ),
        select(func.min(Visit.closed_at), func.max(Visit.closed_at)),
        select(func.min(Callback.resolved_at), func.max(Callback.resolved_at)),
        select(func.min(Complaint.created_at), func.max(Complaint.created_at)),
    ):
        row = session.execute(low_high).one()
        bounds.append((row[0], row[1]))
    lows = [low for low, _ in bounds if low is not None]
    highs = [high for _, high in bounds if high is not None]
    if not lows:
        return None
    return (min(lows).date() - timedelta(days=1), max(highs).date() + timedelta(days=1))


def rebuild(session: Session, first: date | None = None, last: date | None = None) -> RebuildReport:
    """Replace the daily aggregates of [first, last] (default: every day with data) with the sums
    of the raw records' facts. The caller commits.

    On PostgreSQL the aggregates are locked against the live counters meanwhile (SHARE ROW
    EXCLUSIVE: transactions counting a fact wait for the rebuild's commit, and the rebuild waits
    for those that counted before it), so no fact is counted twice or lost.
    """
    if is_postgres(session):
        session.execute(text("LOCK TABLE scorecard_days IN SHARE ROW EXCLUSIVE MODE"))
    everything = first is None and last is None
    if first is None or last is None:
        found = data_range(session)
        if found is None:
            if everything:
                session.execute(delete(ScorecardDay))  # no raw record at all: no aggregate either
            return RebuildReport(first, last, 0, 0)
        first = first if first is not None else found[0]
        last = last if last is not None else found[1]
    if last < first:
        raise ValueError("the last day is before the first")
    if everything:
        session.execute(delete(ScorecardDay))
    else:
        session.execute(delete(ScorecardDay).where(and_(ScorecardDay.day >= first, ScorecardDay.day <= last)))
    sums: dict[Cell, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    n = 0
    for fact in facts(session, first, last):
        n += 1
        for name in fact.figures:
            sums[fact.cell][name] += 1
    tally.add_many(session, sums)
    return RebuildReport(first, last, n, len(sums))
