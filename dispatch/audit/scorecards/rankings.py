"""Rankings a fined provider cannot argue with, and the watch list.

Providers (nationwide), city teams (within each city) and installers are ranked by the **lower
bound of the 95% Wilson score interval** of their very-satisfied rate (very satisfied / rated),
shown with n (the ratings) and the interval. The lower bound is what the rate is at least, with
95% confidence: 3 very satisfied of 3 rated is 100% but proves little (lower bound 43.9%), while
70 of 100 (70%, lower bound 60.4%) proves more. Below RANKING_MIN_RATED ratings a subject is
"not ranked": listed after every ranked one, with n and the interval, but with no score and no
place, so a handful of lucky answers never puts anyone on top. A range without ratings is no
score, never 0%.

Ties (the same lower bound) go to the larger n, then to the code (alphabetical): a stated order,
so every place is one subject's.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from dispatch.audit.scorecards.facts import Fact
from dispatch.audit.scorecards.reading import Level, ScoreRow, check_range, resolve_city, score_rows
from dispatch.audit.scorecards.rebuild import facts
from dispatch.models import Role
from dispatch.platform.actors import Actor

# The standard normal quantile for a two-sided 95% interval.
Z95 = 1.959963984540054


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of k successes in n trials; None for n = 0 (no score)."""
    if n <= 0:
        return None
    if not 0 <= k <= n:
        raise ValueError(f"{k} successes of {n} trials")
    p = k / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    denominator = 1 + z2 / n
    return max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator)


@dataclass
class Ranked:
    """A subject's place: by its score (the Wilson lower bound) when it has enough ratings."""

    row: ScoreRow
    rated: int
    very_satisfied: int
    lower: float | None
    upper: float | None
    ranked: bool
    rank: int | None = None
    of: int = 0  # how many were ranked in its group (nationwide, or its city)

    @property
    def score(self) -> float | None:
        """The lower bound, for ranked subjects only."""
        return self.lower if self.ranked else None

    @property
    def status(self) -> str:
        return "ranked" if self.ranked else "not_ranked"

    @property
    def interval(self) -> dict[str, float | None]:
        """The 95% Wilson interval (null bounds without ratings)."""
        return {"lower": self.lower, "upper": self.upper}

    @property
    def code(self) -> str:
        if self.row.installer is not None:
            return self.row.installer.code
        return self.row.provider.code

    @property
    def rate(self) -> float | None:
        """The very-satisfied rate itself, for ranked subjects only (a rate of few answers misleads)."""
        return self.row.very_satisfied_rate if self.ranked else None


def rank(rows: list[ScoreRow], min_rated: int) -> list[Ranked]:
    """Place one group's subjects: ranked ones by score, then larger n, then code; then the rest
    by code."""
    entries = []
    for row in rows:
        n, k = row.counts["rated"], row.counts["very_satisfied"]
        interval = wilson_interval(k, n)
        entries.append(
            Ranked(
                row,
                n,
                k,
                interval[0] if interval else None,
                interval[1] if interval else None,
                ranked=n >= max(min_rated, 1),
            )
        )
    ranked = sorted((e for e in entries if e.ranked), key=lambda e: (-(e.lower or 0.0), -e.rated, e.code))
    others = sorted((e for e in entries if not e.ranked), key=lambda e: e.code)
    for place, entry in enumerate(ranked, start=1):
        entry.rank = place
        entry.of = len(ranked)
    for entry in others:
        entry.of = len(ranked)
    return ranked + others


def _min_rated(settings: Mapping[str, Any]) -> int:
    return int(settings["RANKING_MIN_RATED"])


def _own(actor: Actor, ranked: list[Ranked]) -> list[Ranked]:
    # A provider sees its own places only (with n and the interval), never another's figures.
    if actor.role != Role.PROVIDER:
        return ranked
    return [r for r in ranked if r.row.provider.id == actor.provider_id]


def provider_ranking(
    session: Session, actor: Actor, first: date, last: date, settings: Mapping[str, Any]
) -> list[Ranked]:
    """Providers ranked nationwide (each city's figures on its own local days)."""
    rows = score_rows(session, _everyone(actor), Level.PROVIDER, first, last)
    return _own(actor, rank(rows, _min_rated(settings)))


def team_ranking(
    session: Session,
    actor: Actor,
    first: date,
    last: date,
    settings: Mapping[str, Any],
    *,
    city: str | None = None,
) -> list[Ranked]:
    """City teams (provider x city) ranked within each city; cities by name."""
    city_id = resolve_city(session, city)
    rows = score_rows(session, _everyone(actor), Level.TEAM, first, last, city_id=city_id)
    by_city: dict[str, list[ScoreRow]] = defaultdict(list)
    for row in rows:
        assert row.city is not None
        by_city[row.city.name].append(row)
    result: list[Ranked] = []
    for name in sorted(by_city):
        result.extend(rank(by_city[name], _min_rated(settings)))
    return _own(actor, result)


def installer_ranking(
    session: Session,
    actor: Actor,
    first: date,
    last: date,
    settings: Mapping[str, Any],
    *,
    city: str | None = None,
) -> list[Ranked]:
    """Installers ranked nationwide, or on their work in one city."""
    city_id = resolve_city(session, city)
    rows = score_rows(session, _everyone(actor), Level.INSTALLER, first, last, city_id=city_id)
    return _own(actor, rank(rows, _min_rated(settings)))


def _everyone(actor: Actor) -> Actor:
    # Places are computed over every subject (a provider's place is among all providers), and
    # only then cut down to what the actor may see (_own).
    return Actor(user_id=actor.user_id, role=Role.SUPERVISOR, name=actor.name)


RANKING_COLUMNS = (
    "rank",
    "of",
    "provider",
    "city",
    "installer",
    "rated",
    "very_satisfied",
    "score_wilson_lower_95",
    "interval_lower",
    "interval_upper",
    "status",
)


def ranking_csv(ranked: list[Ranked], first: date, last: date) -> str:
    """A ranking as CSV (RFC 4180, a header row), fractions with 4 decimals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("from", "to", *RANKING_COLUMNS))

    def fmt(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    for r in ranked:
        writer.writerow(
            (
                first.isoformat(),
                last.isoformat(),
                r.rank or "",
                r.of,
                r.row.provider.code,
                r.row.city.name if r.row.city else "",
                r.row.installer.code if r.row.installer else "",
                r.rated,
                r.very_satisfied,
                fmt(r.score),
                fmt(r.lower),
                fmt(r.upper),
                r.status,
            )
        )
    return out.getvalue()


# --- the watch list ------------------------------------------------------------------------------


@dataclass
class Watched:
    """A city team whose "customer not home" claims are contradicted well above its city's median."""

    team: ScoreRow
    checked: int
    contradicted: int
    share: float
    city_median: float
    points_above: float
    evidence: list[Fact] = field(default_factory=list)


def watch_list(
    session: Session, actor: Actor, first: date, last: date, settings: Mapping[str, Any]
) -> list[Watched]:
    """Teams whose share of contradicted not-home claims is at least RANKING_WATCH_POINTS points
    above their city's median (over the city's teams with such checks), with at least
    RANKING_WATCH_MIN_CONTRADICTED contradicted; each with the verdicts that prove it."""
    check_range(first, last)
    points = float(settings["RANKING_WATCH_POINTS"])
    minimum = int(settings["RANKING_WATCH_MIN_CONTRADICTED"])
    rows = [
        r for r in score_rows(session, actor, Level.TEAM, first, last) if r.counts["not_home_checked"] > 0
    ]
    by_city: dict[int, list[ScoreRow]] = defaultdict(list)
    for row in rows:
        assert row.city is not None
        by_city[row.city.id].append(row)
    watched: list[Watched] = []
    for teams in by_city.values():
        median = statistics.median(r.not_home_contradicted_share or 0.0 for r in teams)
        for row in teams:
            share = row.not_home_contradicted_share or 0.0
            above = (share - median) * 100
            # (a hair of slack: 50% - 35% is 15.000000000000002 points in floating point, or 14.99...)
            if above >= points - 1e-9 and row.counts["not_home_contradicted"] >= minimum:
                watched.append(
                    Watched(
                        row,
                        row.counts["not_home_checked"],
                        row.counts["not_home_contradicted"],
                        share,
                        median,
                        above,
                    )
                )
    for w in watched:
        assert w.team.city is not None
        w.evidence = sorted(
            (
                f
                for f in facts(
                    session, first, last, provider_id=w.team.provider.id, sources=frozenset({"verdict"})
                )
                if "not_home_contradicted" in f.figures and f.cell.city_id == w.team.city.id
            ),
            key=lambda f: (f.at, f.source_id),
        )
    watched.sort(key=lambda w: (-w.points_above, -w.contradicted, w.team.provider.code))
    return watched
