"""Maintenance coming due: the set-based due query, the daily invitations and the units past due.

A unit of a product line with an active plan is due `interval_months` after the plan's cycle
started: the last completed maintenance of that plan on the unit, else its completed installation,
else its purchase (else its registration). It is invited from `invite_days` before the due time
until `window_days` after it (one invitation per unit per plan per cycle, the cycle named by its
due date); after that, with no maintenance of the plan open or done, it is past due and listed for
the hotline. A unit with an open maintenance order of the plan is neither invited nor past due.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from dispatch.models import utcnow
from dispatch.platform.errors import Conflict

log = logging.getLogger(__name__)

_SCAN_LOCK = 0x43415245  # "CARE": one daily pass at a time, whatever the number of schedulers

# One row per (unit, active plan of its product line) whose owner is not erased and which has no
# maintenance order of the plan open: when its cycle started and when it is due. Set-based: the
# completed maintenances and installations are aggregated once and hash-joined to the units.
_DUE = """
WITH last_done AS (
    SELECT w.unit_id, w.maintenance_plan_id AS plan_id, max(v.visited_at) AS at
      FROM work_orders w JOIN visits v ON v.work_order_id = w.id
     WHERE w.maintenance_plan_id IS NOT NULL AND w.state IN ('closed_completed', 'verified')
       AND v.outcome = 'completed'
     GROUP BY w.unit_id, w.maintenance_plan_id
), installed AS (
    SELECT w.unit_id, min(v.visited_at) AS at
      FROM work_orders w JOIN visits v ON v.work_order_id = w.id
     WHERE w.kind IN ('installation', 'delivery_installation') AND w.state IN ('closed_completed', 'verified')
       AND v.outcome = 'completed'
     GROUP BY w.unit_id
), open_orders AS (
    SELECT DISTINCT w.unit_id, w.maintenance_plan_id AS plan_id
      FROM work_orders w
     WHERE w.maintenance_plan_id IS NOT NULL AND w.state IN ('unassigned', 'pending', 'booked')
), anchored AS (
    SELECT u.id AS unit_id, u.customer_id, p.id AS plan_id, p.window_days, p.invite_days,
           COALESCE(ld.at, i.at, u.purchased_at, u.created_at) AS counted_from, p.interval_months
      FROM units u
      JOIN product_models m ON m.id = u.product_model_id
      JOIN maintenance_plans p ON p.product_line_id = m.product_line_id AND p.active
      JOIN customers c ON c.id = u.customer_id AND c.erased_at IS NULL
      LEFT JOIN last_done ld ON ld.unit_id = u.id AND ld.plan_id = p.id
      LEFT JOIN installed i ON i.unit_id = u.id
     WHERE NOT EXISTS (SELECT 1 FROM open_orders o WHERE o.unit_id = u.id AND o.plan_id = p.id)
), due AS (
    SELECT anchored.*, counted_from + make_interval(months => interval_months) AS due_at
      FROM anchored
)
"""

# Coming due now: inside [due - invite horizon, due + window). Recorded once per cycle.
_INVITE = text(
    _DUE
    + """
INSERT INTO maintenance_invitations (unit_id, plan_id, customer_id, due_on, state, created_at)
SELECT unit_id, plan_id, customer_id, (due_at AT TIME ZONE 'UTC')::date, 'invited', :now
  FROM due
 WHERE :now >= due_at - make_interval(days => invite_days)
   AND :now < due_at + make_interval(days => window_days)
ON CONFLICT (unit_id, plan_id, due_on) DO NOTHING
"""
)

_PAST_DUE_WHERE = " WHERE :now >= due.due_at + make_interval(days => due.window_days) "

_PAST_DUE = text(
    _DUE
    + """
SELECT due.unit_id, due.plan_id, due.customer_id, due.due_at, due.counted_from,
       c.name AS customer_name, c.phone, ci.name AS city, ci.timezone, pm.code AS model,
       mp.code AS plan_code, mp.name AS plan_name,
       EXISTS (SELECT 1 FROM maintenance_invitations i
                WHERE i.unit_id = due.unit_id AND i.plan_id = due.plan_id
                  AND i.due_on = (due.due_at AT TIME ZONE 'UTC')::date) AS invited,
       count(*) OVER () AS total
  FROM due
  JOIN customers c ON c.id = due.customer_id
  JOIN units u ON u.id = due.unit_id
  JOIN cities ci ON ci.id = u.city_id
  JOIN product_models pm ON pm.id = u.product_model_id
  JOIN maintenance_plans mp ON mp.id = due.plan_id
"""
    + _PAST_DUE_WHERE
    + """
 ORDER BY due.due_at, due.unit_id
 LIMIT :limit OFFSET :offset
"""
)


def _postgres_only(session: Session, what: str) -> None:
    if session.get_bind().dialect.name != "postgresql":
        raise Conflict(f"{what} needs PostgreSQL (set-based date arithmetic); SQLite does not have it")


def _advisory_lock(session: Session, key: int) -> bool:
    """A transaction-scoped lock: a second scheduler's pass finds it taken and does nothing."""
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}))


def record_due(session: Session, *, now: datetime | None = None) -> int | None:
    """Record an invitation for every unit coming due (once per cycle); None if another pass runs
    (or on SQLite, which lacks the date arithmetic).

    One INSERT ... SELECT over all units, under a transaction-scoped advisory lock; the unique
    (unit, plan, due date) makes a repeated pass a no-op even without the lock.
    """
    if session.get_bind().dialect.name != "postgresql":
        log.warning("the maintenance scan needs PostgreSQL (set-based date arithmetic): skipped")
        return None
    if not _advisory_lock(session, _SCAN_LOCK):
        return None
    result = session.execute(_INVITE, {"now": now or utcnow()})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PastDue:
    """A unit whose maintenance is overdue, for the hotline to call its owner."""

    unit_id: int
    plan_id: int
    customer_id: int
    customer_name: str
    phone: str
    city: str
    timezone: str
    model: str
    plan_code: str
    plan_name: str
    due_on: date  # in the city's local time
    counted_from: datetime
    days_overdue: int
    invited: bool


def past_due(
    session: Session, *, page: int = 1, per_page: int = 50, now: datetime | None = None
) -> tuple[list[PastDue], int]:
    """Units past their due window with no maintenance of the plan open, oldest due first."""
    _postgres_only(session, "the list of units past due")
    now = now or utcnow()
    rows = session.execute(
        _PAST_DUE, {"now": now, "limit": per_page, "offset": (page - 1) * per_page}
    ).mappings()
    items: list[PastDue] = []
    total = 0
    for row in rows:
        total = int(row["total"])
        due_local = row["due_at"].astimezone(ZoneInfo(row["timezone"]))
        items.append(
            PastDue(
                unit_id=row["unit_id"],
                plan_id=row["plan_id"],
                customer_id=row["customer_id"],
                customer_name=row["customer_name"],
                phone=row["phone"],
                city=row["city"],
                timezone=row["timezone"],
                model=row["model"],
                plan_code=row["plan_code"],
                plan_name=row["plan_name"],
                due_on=due_local.date(),
                counted_from=row["counted_from"],
                days_overdue=(now - row["due_at"]).days,
                invited=bool(row["invited"]),
            )
        )
    if not items and page > 1:
        total = past_due_count(session, now=now)
    return items, total


def past_due_count(session: Session, *, now: datetime | None = None) -> int:
    """How many units are past due (for the hotline's heading and the bench)."""
    _postgres_only(session, "the list of units past due")
    sql = text(_DUE + "SELECT count(*) FROM due" + _PAST_DUE_WHERE)
    return int(session.scalar(sql, {"now": now or utcnow()}) or 0)
