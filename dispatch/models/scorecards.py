"""Scorecards: daily aggregates of what providers, their city teams and installers did.

One row per cell: a day (the customer's local day, in the city of the order), a provider, a city
and an installer (0 where no installer is known: a dispatch, a status check). A provider's
scorecard is the sum of its cells, a team's (provider x city) the sum of its cells in that city,
an installer's the sum of the cells naming it. The counters are kept current in the transaction
that records each fact (dispatch.audit.scorecards.tally) and can be rebuilt from the raw records
(`dispatch scorecards rebuild`).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, PrimaryKeyConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.models.base import Base

# The counters of a cell, in the order the API and the CSV files show them.
FIGURES: tuple[str, ...] = (
    "dispatched",  # orders given to the provider (created routed, or assigned)
    "closed",  # visits reported (closings), whatever the outcome
    "first_visit_completed",  # closings reporting "completed" on the order's first visit
    "not_home_claims",  # closings reporting "not completed: customer not home"
    "verdicts",  # callbacks resolved with an answer (confirmed, contradicted, rescheduled)
    "confirmed",
    "contradicted",  # any claim the customer contradicted
    "unreachable",  # callbacks that ended without reaching the customer (never a verdict on the claim)
    "not_home_checked",  # verdicts on a "customer not home" claim
    "not_home_contradicted",  # ... that the customer contradicted ("I was home, nobody came")
    "rated",  # answers with a rating
    "very_satisfied",  # ... "very satisfied"
    "complaints",  # complaints opened
)


class ScorecardDay(Base):
    __tablename__ = "scorecard_days"
    __table_args__ = (
        # The key every UPSERT names (ON CONFLICT): one row per day, provider, city and installer.
        PrimaryKeyConstraint("day", "provider_id", "city_id", "installer_id", name="pk_scorecard_days"),
        Index("ix_scorecard_days_provider_day", "provider_id", "day"),
        Index("ix_scorecard_days_city_day", "city_id", "day"),
        CheckConstraint(" AND ".join(f"{f} >= 0" for f in FIGURES), name="ck_scorecard_days_counts"),
    )
    day: Mapped[date]
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"))
    # 0 = no installer (a dispatch, a status check); not a foreign key for that reason.
    installer_id: Mapped[int] = mapped_column(Integer)
    dispatched: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    first_visit_completed: Mapped[int] = mapped_column(Integer, default=0)
    not_home_claims: Mapped[int] = mapped_column(Integer, default=0)
    verdicts: Mapped[int] = mapped_column(Integer, default=0)
    confirmed: Mapped[int] = mapped_column(Integer, default=0)
    contradicted: Mapped[int] = mapped_column(Integer, default=0)
    unreachable: Mapped[int] = mapped_column(Integer, default=0)
    not_home_checked: Mapped[int] = mapped_column(Integer, default=0)
    not_home_contradicted: Mapped[int] = mapped_column(Integer, default=0)
    rated: Mapped[int] = mapped_column(Integer, default=0)
    very_satisfied: Mapped[int] = mapped_column(Integer, default=0)
    complaints: Mapped[int] = mapped_column(Integer, default=0)
