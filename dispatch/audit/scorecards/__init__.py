"""Scorecards and rankings: what each provider, city team and installer did, day by day.

- facts.py     what each recorded fact counts (one set of rules for the live counters and the rebuild)
- tally.py     the live counters: queued with each fact, one UPSERT per cell at commit
- rebuild.py   the raw records read again: facts of a range, and `dispatch scorecards rebuild`
- reading.py   scorecards over any range, and the drill-down from a figure to its orders
- rankings.py  Wilson-bound rankings (nationwide, per city, installers) and the watch list
- today.py     the supervisors' live figures of a day: orders by state, callbacks done and due

This package sits below the capabilities that record the facts (orders, complaints, callbacks,
visits), which count them here; it reads the raw records through the models only.
"""

from __future__ import annotations

from dispatch.audit.scorecards.facts import NO_INSTALLER, SOURCES, Cell, Fact, local_day
from dispatch.audit.scorecards.rankings import (
    RANKING_COLUMNS,
    Z95,
    Ranked,
    Watched,
    installer_ranking,
    provider_ranking,
    rank,
    ranking_csv,
    team_ranking,
    watch_list,
    wilson_interval,
)
from dispatch.audit.scorecards.reading import (
    MAX_DAYS,
    Evidence,
    Level,
    ProviderScorecard,
    ScoreRow,
    check_range,
    figure_orders,
    provider_scorecard,
    resolve_city,
    score_rows,
    scorecard_list,
    visible_provider,
)
from dispatch.audit.scorecards.rebuild import RebuildReport, data_range, facts, rebuild
from dispatch.audit.scorecards.tally import (
    count,
    count_closing,
    count_complaint,
    count_dispatch,
    count_verdict,
)
from dispatch.audit.scorecards.today import DayFigures, day_figures

__all__ = [
    "MAX_DAYS",
    "NO_INSTALLER",
    "RANKING_COLUMNS",
    "SOURCES",
    "Z95",
    "Cell",
    "DayFigures",
    "Evidence",
    "Fact",
    "Level",
    "ProviderScorecard",
    "Ranked",
    "RebuildReport",
    "ScoreRow",
    "Watched",
    "check_range",
    "count",
    "count_closing",
    "count_complaint",
    "count_dispatch",
    "count_verdict",
    "data_range",
    "day_figures",
    "facts",
    "figure_orders",
    "installer_ranking",
    "local_day",
    "provider_ranking",
    "provider_scorecard",
    "rank",
    "ranking_csv",
    "rebuild",
    "resolve_city",
    "score_rows",
    "scorecard_list",
    "team_ranking",
    "visible_provider",
    "watch_list",
    "wilson_interval",
]
