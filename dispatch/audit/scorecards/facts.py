"""What each recorded fact adds to a scorecard: the one set of rules that both the live counters
(tally.py) and the rebuild from the raw records (rebuild.py) apply, so that they cannot disagree.

A fact is counted on the **customer's local day** (the time zone of the order's city) of the
moment it was recorded: a dispatch when the order got its provider, a closing when the provider
reported it, a verdict when the callback was resolved, a complaint when it was opened. Local, not
UTC: a team's day is the day its customers and installers live (a Nanjing verdict at 07:30 local
time belongs to that morning, not to the UTC day before), and rankings compare teams of one city
on the same days. A nationwide figure is the sum of each city's own local day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dispatch.models import FIGURES, NotCompletedReason, Outcome, Rating, Verdict

NO_INSTALLER = 0

# Where each figure comes from (the kind of raw record behind it, for the drill-down).
SOURCES: dict[str, str] = {
    "dispatched": "dispatch",
    "closed": "closing",
    "first_visit_completed": "closing",
    "not_home_claims": "closing",
    "verdicts": "verdict",
    "confirmed": "verdict",
    "contradicted": "verdict",
    "unreachable": "verdict",
    "not_home_checked": "verdict",
    "not_home_contradicted": "verdict",
    "rated": "verdict",
    "very_satisfied": "verdict",
    "complaints": "complaint",
}
assert set(SOURCES) == set(FIGURES)


@dataclass(frozen=True, order=True)
class Cell:
    """The grain of the daily aggregates: a local day, a provider, a city and an installer (0: none)."""

    day: date
    provider_id: int
    city_id: int
    installer_id: int = NO_INSTALLER


@dataclass(frozen=True)
class Fact:
    """One raw record's contribution: the cell it counts in and the figures it adds one to."""

    cell: Cell
    figures: tuple[str, ...]
    work_order_id: int
    source: str  # dispatch | closing | verdict | complaint
    source_id: int  # the order (dispatch), visit, callback or complaint
    at: datetime


def local_day(at: datetime, timezone: str) -> date:
    """The calendar day of `at` in `timezone` (the customer's city)."""
    return at.astimezone(ZoneInfo(timezone)).date()


def dispatch_fact(*, work_order_id: int, provider_id: int, city_id: int, timezone: str, at: datetime) -> Fact:
    """An order handed to a provider (created routed to it, or assigned to it)."""
    cell = Cell(local_day(at, timezone), provider_id, city_id)
    return Fact(cell, ("dispatched",), work_order_id, "dispatch", work_order_id, at)


def closing_fact(
    *,
    visit_id: int,
    work_order_id: int,
    provider_id: int,
    city_id: int,
    installer_id: int,
    timezone: str,
    closed_at: datetime,
    outcome: str,
    reason: str | None,
    first_visit: bool,
) -> Fact:
    """A provider's report of a visit (the claim, before any verdict on it)."""
    figures = ["closed"]
    if outcome == Outcome.COMPLETED and first_visit:
        figures.append("first_visit_completed")
    if reason == NotCompletedReason.CUSTOMER_NOT_HOME:
        figures.append("not_home_claims")
    cell = Cell(local_day(closed_at, timezone), provider_id, city_id, installer_id)
    return Fact(cell, tuple(figures), work_order_id, "closing", visit_id, closed_at)


def verdict_figures(verdict: str, claim: str, rating: str | None) -> tuple[str, ...]:
    """The figures a resolved callback adds to: its verdict, the not-home check, its rating."""
    figures: list[str] = []
    if verdict == Verdict.UNREACHABLE:
        figures.append("unreachable")
    else:
        figures.append("verdicts")
        if verdict == Verdict.CONFIRMED:
            figures.append("confirmed")
        elif verdict == Verdict.CONTRADICTED:
            figures.append("contradicted")
        if claim == NotCompletedReason.CUSTOMER_NOT_HOME:
            figures.append("not_home_checked")
            if verdict == Verdict.CONTRADICTED:
                figures.append("not_home_contradicted")
    if rating is not None:
        figures.append("rated")
        if rating == Rating.VERY_SATISFIED:
            figures.append("very_satisfied")
    return tuple(figures)


def verdict_fact(
    *,
    callback_id: int,
    work_order_id: int,
    provider_id: int,
    city_id: int,
    installer_id: int,
    timezone: str,
    resolved_at: datetime,
    verdict: str,
    claim: str,
    rating: str | None,
) -> Fact:
    """A callback resolved: the customer's verdict on the claim (or unreachable) and the rating."""
    cell = Cell(local_day(resolved_at, timezone), provider_id, city_id, installer_id)
    return Fact(
        cell, verdict_figures(verdict, claim, rating), work_order_id, "verdict", callback_id, resolved_at
    )


def complaint_fact(
    *,
    complaint_id: int,
    work_order_id: int,
    provider_id: int,
    city_id: int,
    installer_id: int,
    timezone: str,
    created_at: datetime,
) -> Fact:
    """A complaint opened against the provider."""
    cell = Cell(local_day(created_at, timezone), provider_id, city_id, installer_id)
    return Fact(cell, ("complaints",), work_order_id, "complaint", complaint_id, created_at)


# The same facts read off the records themselves (an ORM object, or a row with the same column
# names), so the live counters and the rebuild name each field once.


def closing_of(visit: Any, *, city_id: int, timezone: str, first_visit: bool) -> Fact:
    """The closing fact of a visit (a Visit, or a row with its columns)."""
    return closing_fact(
        visit_id=visit.id,
        work_order_id=visit.work_order_id,
        provider_id=visit.provider_id,
        city_id=city_id,
        installer_id=visit.installer_id,
        timezone=timezone,
        closed_at=visit.closed_at,
        outcome=visit.outcome,
        reason=visit.reason,
        first_visit=first_visit,
    )


def verdict_of(callback: Any, *, city_id: int, timezone: str) -> Fact:
    """The verdict fact of a resolved callback (a Callback, or a row with its columns)."""
    return verdict_fact(
        callback_id=callback.id,
        work_order_id=callback.work_order_id,
        provider_id=callback.provider_id,
        city_id=city_id,
        installer_id=callback.installer_id or NO_INSTALLER,
        timezone=timezone,
        resolved_at=callback.resolved_at,
        verdict=callback.verdict,
        claim=callback.claim,
        rating=callback.rating,
    )


def complaint_of(complaint: Any, installer_id: int | None, *, city_id: int, timezone: str) -> Fact:
    """The fact of an opened complaint (a Complaint, or a row with its columns); `installer_id`:
    the contradicted visit's installer, if any."""
    return complaint_fact(
        complaint_id=complaint.id,
        work_order_id=complaint.work_order_id,
        provider_id=complaint.provider_id,
        city_id=city_id,
        installer_id=installer_id or NO_INSTALLER,
        timezone=timezone,
        created_at=complaint.created_at,
    )
