"""Scorecards and rankings: supervisors see every provider's, a provider only its own."""

from __future__ import annotations

from flask import Response, current_app
from flask.views import MethodView

from dispatch.api.context import actor, db
from dispatch.api.parsing import Blueprint
from dispatch.api.schemas.scorecards import (
    EvidencePageOut,
    FigureOrdersQuery,
    ProviderRankingQuery,
    ProviderScorecardOut,
    ProviderScorecardQuery,
    RankingOut,
    RankingQuery,
    ScorecardPageOut,
    ScorecardQuery,
    WatchListOut,
    WatchListQuery,
)
from dispatch.api.security import requires
from dispatch.audit import scorecards
from dispatch.models import Role

blp = Blueprint(
    "scorecards",
    __name__,
    url_prefix="/api/v1",
    description="Scorecards and rankings (per customer's local day; a provider sees its own)",
)

READERS = (Role.SUPERVISOR, Role.PROVIDER)
CSV = {"type": "string", "format": "binary"}


def csv_response(body: str, filename: str) -> Response:
    """A CSV download (UTF-8)."""
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blp.route("/scorecards")
class Scorecards(MethodView):
    @requires(*READERS)
    @blp.arguments(ScorecardQuery, location="query")
    @blp.response(200, ScorecardPageOut)
    def get(self, query):
        """The figures of each provider, city team or installer over a day or a range of days.

        Summed from the daily aggregates (kept in each fact's own transaction); `by_day=true`
        gives a row per day with data (a day without data has no row: no score). A provider sees
        only its own rows.
        """
        page, per_page = query.pop("page"), query.pop("per_page")
        rows = scorecards.scorecard_list(
            db(), actor(), scorecards.Level(query.pop("level")), query.pop("first"), query.pop("last"), **query
        )
        return {"items": rows[(page - 1) * per_page : page * per_page], "total": len(rows), "page": page, "per_page": per_page}


@blp.route("/scorecards/providers/<string:provider_code>")
class ProviderScorecard(MethodView):
    @requires(*READERS)
    @blp.arguments(ProviderScorecardQuery, location="query")
    @blp.response(200, ProviderScorecardOut)
    def get(self, query, provider_code):
        """One provider's scorecard: totals, each day, each city team, each installer.
        Another provider's is 404."""
        return scorecards.provider_scorecard(db(), actor(), provider_code, query["first"], query["last"])


@blp.route("/scorecards/providers/<string:provider_code>/orders")
class FigureOrders(MethodView):
    @requires(*READERS)
    @blp.arguments(FigureOrdersQuery, location="query")
    @blp.response(200, EvidencePageOut)
    def get(self, query, provider_code):
        """The orders behind one figure (e.g. `figure=contradicted&day=2031-03-14`), oldest first,
        each with its claim, its verdict and the customer's verified answer: what the robot heard
        (and how it read it) or the agent who took it. Another provider's is 404."""
        items, total = scorecards.figure_orders(
            db(),
            actor(),
            provider_code,
            query["figure"],
            query["first"],
            query["last"],
            city=query.get("city"),
            installer_id=query.get("installer_id"),
            page=query["page"],
            per_page=query["per_page"],
        )
        return {"items": items, "total": total, "page": query["page"], "per_page": query["per_page"]}


def _ranking(level: str, query: dict, ranked: list[scorecards.Ranked]) -> dict:
    return {
        "level": level,
        "first": query["first"],
        "last": query["last"],
        "min_rated": int(current_app.config["RANKING_MIN_RATED"]),
        "items": ranked,
    }


def _providers(query: dict) -> list[scorecards.Ranked]:
    return scorecards.provider_ranking(db(), actor(), query["first"], query["last"], current_app.config)


def _teams(query: dict) -> list[scorecards.Ranked]:
    return scorecards.team_ranking(
        db(), actor(), query["first"], query["last"], current_app.config, city=query.get("city")
    )


def _installers(query: dict) -> list[scorecards.Ranked]:
    return scorecards.installer_ranking(
        db(), actor(), query["first"], query["last"], current_app.config, city=query.get("city")
    )


@blp.route("/rankings/providers")
class ProviderRanking(MethodView):
    @requires(*READERS)
    @blp.arguments(ProviderRankingQuery, location="query")
    @blp.response(200, RankingOut)
    def get(self, query):
        """Providers ranked nationwide.

        By the 95% Wilson lower bound of the very-satisfied rate, with n and the interval; below
        RANKING_MIN_RATED ratings 'not_ranked' (no score, no place, listed last). Ties: larger n,
        then code. A provider sees its own place only.
        """
        return _ranking("provider", query, _providers(query))


@blp.route("/rankings/providers.csv")
class ProviderRankingCsv(MethodView):
    @requires(*READERS)
    @blp.arguments(ProviderRankingQuery, location="query")
    @blp.response(200, CSV, content_type="text/csv")
    def get(self, query):
        """Providers ranked nationwide, as CSV."""
        body = scorecards.ranking_csv(_providers(query), query["first"], query["last"])
        return csv_response(body, f"ranking-providers-{query['first']}-{query['last']}.csv")


@blp.route("/rankings/teams")
class TeamRanking(MethodView):
    @requires(*READERS)
    @blp.arguments(RankingQuery, location="query")
    @blp.response(200, RankingOut)
    def get(self, query):
        """Each city's provider teams ranked within the city (cities by name)."""
        return _ranking("team", query, _teams(query))


@blp.route("/rankings/teams.csv")
class TeamRankingCsv(MethodView):
    @requires(*READERS)
    @blp.arguments(RankingQuery, location="query")
    @blp.response(200, CSV, content_type="text/csv")
    def get(self, query):
        """Each city's provider teams ranked within the city, as CSV."""
        body = scorecards.ranking_csv(_teams(query), query["first"], query["last"])
        return csv_response(body, f"ranking-teams-{query['first']}-{query['last']}.csv")


@blp.route("/rankings/installers")
class InstallerRanking(MethodView):
    @requires(*READERS)
    @blp.arguments(RankingQuery, location="query")
    @blp.response(200, RankingOut)
    def get(self, query):
        """Installers ranked nationwide (or on their work in one city)."""
        return _ranking("installer", query, _installers(query))


@blp.route("/rankings/installers.csv")
class InstallerRankingCsv(MethodView):
    @requires(*READERS)
    @blp.arguments(RankingQuery, location="query")
    @blp.response(200, CSV, content_type="text/csv")
    def get(self, query):
        """Installers ranked, as CSV."""
        body = scorecards.ranking_csv(_installers(query), query["first"], query["last"])
        return csv_response(body, f"ranking-installers-{query['first']}-{query['last']}.csv")


@blp.route("/rankings/watch-list")
class WatchList(MethodView):
    @requires(Role.SUPERVISOR)
    @blp.arguments(WatchListQuery, location="query")
    @blp.response(200, WatchListOut)
    def get(self, query):
        """City teams whose 'customer not home' claims were contradicted well above their city's
        median share (RANKING_WATCH_POINTS points, at least RANKING_WATCH_MIN_CONTRADICTED of them),
        with the contradicting verdicts as evidence."""
        cfg = current_app.config
        return {
            "first": query["first"],
            "last": query["last"],
            "points": float(cfg["RANKING_WATCH_POINTS"]),
            "min_contradicted": int(cfg["RANKING_WATCH_MIN_CONTRADICTED"]),
            "items": scorecards.watch_list(db(), actor(), query["first"], query["last"], cfg),
        }
