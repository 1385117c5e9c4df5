"""Reading the scorecards: sums of the daily aggregates for a provider, a city team (provider x
city) or an installer over any range of days, and the drill-down from a figure to the orders
behind it and each one's verified answer. A provider sees only its own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from dispatch.audit.scorecards.facts import NO_INSTALLER, SOURCES, Fact
from dispatch.audit.scorecards.rebuild import facts
from dispatch.models import (
    FIGURES,
    Callback,
    City,
    Complaint,
    ContactAttempt,
    Installer,
    Provider,
    Role,
    ScorecardDay,
    User,
    Visit,
    WorkOrder,
)
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Invalid, NotFound

# The longest range one request may sum or drill into.
MAX_DAYS = 366


class Level(enum.StrEnum):
    PROVIDER = "provider"
    TEAM = "team"  # a provider's team in one city
    INSTALLER = "installer"


# Days outside these years name no record (and would overflow the UTC window's arithmetic).
FIRST_YEAR, LAST_YEAR = 2000, 2999


def check_range(first: date, last: date, *, field_name: str = "from") -> None:
    """A range of local days, first to last inclusive, at most MAX_DAYS long."""
    if not (FIRST_YEAR <= first.year <= LAST_YEAR and FIRST_YEAR <= last.year <= LAST_YEAR):
        raise Invalid.field(field_name, f"days must lie in the years {FIRST_YEAR} to {LAST_YEAR}")
    if last < first:
        raise Invalid.field("to", "is before from")
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid.field(field_name, f"a range may span at most {MAX_DAYS} days")


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class ScoreRow:
    """The figures of one subject (a provider, a team, an installer), for a range or one day."""

    provider: Provider
    city: City | None
    installer: Installer | None
    day: date | None
    counts: dict[str, int]

    @property
    def rates(self) -> ScoreRow:
        """The row itself, read for its rates."""
        return self

    @property
    def city_name(self) -> str | None:
        return self.city.name if self.city else None

    @property
    def very_satisfied_rate(self) -> float | None:
        """Very satisfied / rated; None without a rating (no score, not zero)."""
        return _ratio(self.counts["very_satisfied"], self.counts["rated"])

    @property
    def not_home_contradicted_share(self) -> float | None:
        """Of the "customer not home" claims checked with the customer, the share contradicted."""
        return _ratio(self.counts["not_home_contradicted"], self.counts["not_home_checked"])

    @property
    def contradicted_share(self) -> float | None:
        """Of all verdicts, the share that contradicted the provider's claim."""
        return _ratio(self.counts["contradicted"], self.counts["verdicts"])

    @property
    def first_visit_share(self) -> float | None:
        """Closings reported completed on the order's first visit, of all closings."""
        return _ratio(self.counts["first_visit_completed"], self.counts["closed"])


def visible_provider(session: Session, actor: Actor, code: str) -> Provider:
    """The provider with `code`, if the actor may see its figures (a provider: itself), else NotFound."""
    # (A NUL can come in a path, which PostgreSQL cannot compare: no code holds one.)
    provider = (
        None if "\x00" in code else session.scalars(select(Provider).where(Provider.code == code)).first()
    )
    if provider is None or (actor.role == Role.PROVIDER and provider.id != actor.provider_id):
        raise NotFound(f"provider {code!r} not found")
    return provider


def score_rows(
    session: Session,
    actor: Actor,
    level: Level,
    first: date,
    last: date,
    *,
    provider_id: int | None = None,
    city_id: int | None = None,
    installer_id: int | None = None,
    by_day: bool = False,
) -> list[ScoreRow]:
    """The figures of every subject of `level` with data in [first, last] (summed; per day with
    `by_day`), a provider's own only for a provider. A day without data has no row: no score."""
    check_range(first, last)
    if actor.role == Role.PROVIDER:
        if provider_id is not None and provider_id != actor.provider_id:
            return []
        provider_id = actor.provider_id
    keys: list[Any] = [ScorecardDay.provider_id]
    if level == Level.TEAM:
        keys.append(ScorecardDay.city_id)
    if level == Level.INSTALLER:
        keys.append(ScorecardDay.installer_id)
    if by_day:
        keys.append(ScorecardDay.day)
    sums = [func.sum(getattr(ScorecardDay, name)).label(name) for name in FIGURES]
    conditions: list[ColumnElement[bool]] = [ScorecardDay.day >= first, ScorecardDay.day <= last]
    if provider_id is not None:
        conditions.append(ScorecardDay.provider_id == provider_id)
    if city_id is not None:
        conditions.append(ScorecardDay.city_id == city_id)
    if installer_id is not None:
        conditions.append(ScorecardDay.installer_id == installer_id)
    if level == Level.INSTALLER:
        conditions.append(ScorecardDay.installer_id != NO_INSTALLER)
    rows = session.execute(select(*keys, *sums).where(*conditions).group_by(*keys).order_by(*keys)).all()
    providers = _by_id(session, Provider, {r.provider_id for r in rows})
    cities = _by_id(session, City, {r.city_id for r in rows} if level == Level.TEAM else set())
    installers = _by_id(
        session, Installer, {r.installer_id for r in rows} if level == Level.INSTALLER else set()
    )
    result = []
    for r in rows:
        result.append(
            ScoreRow(
                provider=providers[r.provider_id],
                city=cities[r.city_id] if level == Level.TEAM else None,
                installer=installers[r.installer_id] if level == Level.INSTALLER else None,
                day=r.day if by_day else None,
                counts={name: int(getattr(r, name) or 0) for name in FIGURES},
            )
        )
    return result


def _by_id(session: Session, model: Any, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids))).unique()}


def resolve_city(session: Session, name: str | None) -> int | None:
    """A city's id by name, any case (None for None); Invalid naming `city` when there is none."""
    if name is None:
        return None
    if "\x00" in name:  # PostgreSQL cannot compare it, and no name holds one
        raise Invalid.field("city", "must not contain NUL characters")
    city_id = session.scalar(select(City.id).where(func.lower(City.name) == name.strip().lower()))
    if city_id is None:
        raise Invalid.field("city", f"no city {name!r}")
    return city_id


def scorecard_list(
    session: Session,
    actor: Actor,
    level: Level,
    first: date,
    last: date,
    *,
    provider_id: int | None = None,
    city: str | None = None,
    installer_id: int | None = None,
    by_day: bool = False,
) -> list[ScoreRow]:
    """Score rows filtered by a provider, a city's name and an installer. A provider filtering on
    another provider gets nothing, as on every list."""
    return score_rows(
        session,
        actor,
        level,
        first,
        last,
        provider_id=provider_id,
        city_id=resolve_city(session, city),
        installer_id=installer_id,
        by_day=by_day,
    )


@dataclass
class ProviderScorecard:
    """One provider's scorecard over a range: its totals, each day, each city team, each installer."""

    provider: Provider
    first: date
    last: date
    total: dict[str, int]
    days: list[ScoreRow]
    teams: list[ScoreRow]
    installers: list[ScoreRow]

    @property
    def rates(self) -> ScoreRow:
        """The totals as a row, read for their rates."""
        return ScoreRow(self.provider, None, None, None, self.total)


def provider_scorecard(
    session: Session, actor: Actor, code: str, first: date, last: date
) -> ProviderScorecard:
    """A provider's scorecard (404 for another provider's, as for one that does not exist)."""
    provider = visible_provider(session, actor, code)
    days = score_rows(session, actor, Level.PROVIDER, first, last, provider_id=provider.id, by_day=True)
    total = {name: sum(d.counts[name] for d in days) for name in FIGURES}
    return ProviderScorecard(
        provider,
        first,
        last,
        total,
        days,
        score_rows(session, actor, Level.TEAM, first, last, provider_id=provider.id),
        score_rows(session, actor, Level.INSTALLER, first, last, provider_id=provider.id),
    )


# --- the drill-down -------------------------------------------------------------------------------


@dataclass
class Evidence:
    """One order behind a figure, with the record that counted it and the customer's verified answer."""

    figure: str
    fact: Fact
    work_order: WorkOrder
    installer: Installer | None
    visit: Visit | None = None
    callback: Callback | None = None
    answer: ContactAttempt | None = None  # the attempt on which the customer answered
    agent: User | None = None  # the callback-team agent who took the answer (a human call)
    complaint: Complaint | None = None
    attempts: list[ContactAttempt] = field(default_factory=list)

    @property
    def day(self) -> date:
        return self.fact.cell.day

    @property
    def complaint_id(self) -> int | None:
        return self.complaint.id if self.complaint else None

    @property
    def at(self) -> datetime:
        return self.fact.at


def figure_orders(
    session: Session,
    actor: Actor,
    code: str,
    figure: str,
    first: date,
    last: date,
    *,
    city: str | None = None,
    installer_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Evidence], int]:
    """The orders behind one figure of a provider's scorecard (the same facts the aggregates
    counted), oldest first, each with its evidence; 404 for another provider. `city` (a name) and
    `installer_id` narrow it to one team or one installer."""
    if figure not in SOURCES:
        raise Invalid.field("figure", f"unknown figure {figure!r}")
    check_range(first, last)
    provider = visible_provider(session, actor, code)
    city_id = resolve_city(session, city)
    found = [
        f
        for f in facts(session, first, last, provider_id=provider.id, sources=frozenset({SOURCES[figure]}))
        if figure in f.figures
        and (city_id is None or f.cell.city_id == city_id)
        and (installer_id is None or f.cell.installer_id == installer_id)
    ]
    found.sort(key=lambda f: (f.at, f.source_id))
    chosen = found[(page - 1) * per_page : page * per_page]
    return [_evidence(session, figure, f) for f in chosen], len(found)


def _evidence(session: Session, figure: str, fact: Fact) -> Evidence:
    order = session.get(WorkOrder, fact.work_order_id)
    if order is None:  # the raw records reference it
        raise NotFound(f"work order {fact.work_order_id} not found")
    installer = session.get(Installer, fact.cell.installer_id) if fact.cell.installer_id else None
    evidence = Evidence(figure, fact, order, installer)
    callback: Callback | None = None
    if fact.source == "closing":
        evidence.visit = session.get(Visit, fact.source_id)
        callback = session.scalars(select(Callback).where(Callback.visit_id == fact.source_id)).first()
    elif fact.source == "verdict":
        callback = session.get(Callback, fact.source_id)
    elif fact.source == "complaint":
        evidence.complaint = session.get(Complaint, fact.source_id)
        if evidence.complaint is not None and evidence.complaint.callback_id:
            callback = session.get(Callback, evidence.complaint.callback_id)
    if callback is not None:
        evidence.callback = callback
        if evidence.visit is None and callback.visit_id:
            evidence.visit = session.get(Visit, callback.visit_id)
        evidence.attempts = list(callback.attempts)
        answered = [a for a in evidence.attempts if a.status == "answered"]
        if answered:
            evidence.answer = answered[-1]
            if evidence.answer.agent_user_id:
                evidence.agent = session.get(User, evidence.answer.agent_user_id)
    return evidence
