"""Scorecards and rankings: supervisors see every provider's, a provider only its own."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app
from flask.views import MethodView

from dispatch.api.context import actor, reports_db
from dispatch.api.parsing import Blueprint, page_of
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
# The reports read from a streaming replica when one is configured and keeps up (api/context.py
# reports_db); their answers say which database answered.
READ_FROM = {
    "X-Read-From": {
        "description": "Where the report was read: the streaming replica (REPORTS_DATABASE_URL), "
        "or the primary (no replica, or it is down or lags beyond REPORTS_MAX_LAG_SECONDS)",
        "schema": {"type": "string", "enum": ["replica", "primary"]},
    }
}


def csv_response(body: str, filename: str) -> Response:
    """A CSV download (UTF-8)."""
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blp.route("/scorecards")
class Scorecards(MethodView):
    @requires(*READERS)
    @blp.arguments(ScorecardQuery, location="query")
    @blp.response(200, ScorecardPageOut, headers=READ_FROM)
    def get(self, query):
        """The figures of each provider, city team or installer over a day or a range of days.

        Summed from the daily aggregates (kept in each fact's own transaction); `by_day=true`
        gives a row per day with data (a day without data has no row: no score). A provider sees
        only its own rows.
        """
        page, per_page = query.pop("page"), query.pop("per_page")
        rows = scorecards.scorecard_list(
            reports_db(),
            actor(),
            scorecards.Level(query.pop("level")),
            query.pop("first"),
            query.pop("last"),
            **query,
        )
        return {
            "items": rows[(page - 1) * per_page : page * per_page],
            "total": len(rows),
            "page": page,
            "per_page": per_page,
        }


@blp.route("/scorecards/providers/<string:provider_code>")
class ProviderScorecard(MethodView):
    @requires(*READERS)
    @blp.arguments(ProviderScorecardQuery, location="query")
    @blp.response(200, ProviderScorecardOut, headers=READ_FROM)
    def get(self, query, provider_code):
        """One provider's scorecard: totals, each day, each city team, each installer.
        Another provider's is 404."""
        return scorecards.provider_scorecard(
            reports_db(), actor(), provider_code, query["first"], query["last"]
        )


@blp.route("/scorecards/providers/<string:provider_code>/orders")
class FigureOrders(MethodView):
    @requires(*READERS)
    @blp.arguments(FigureOrdersQuery, location="query")
    @blp.response(200, EvidencePageOut, headers=READ_FROM)
    def get(self, query, provider_code):
        """The orders behind one figure (e.g. `figure=contradicted&day=2031-03-14`), oldest first,
        each with its claim, its verdict and the customer's verified answer: what the robot heard
        (and how it read it) or the agent who took it. Another provider's is 404."""
        return page_of(
            query,
            lambda **page: scorecards.figure_orders(
                reports_db(),
                actor(),
                provider_code,
                query["figure"],
                query["first"],
                query["last"],
                city=query.get("city"),
                installer_id=query.get("installer_id"),
                **page,
            ),
        )


def _ranking(level: str, query: dict, ranked: list[scorecards.Ranked]) -> dict:
    return {
        "level": level,
        "first": query["first"],
        "last": query["last"],
        "min_rated": int(current_app.config["RANKING_MIN_RATED"]),
        "items": ranked,
    }


def _providers(query: dict) -> list[scorecards.Ranked]:
    return scorecards.provider_ranking(
        reports_db(), actor(), query["first"], query["last"], current_app.config
    )


def _teams(query: dict) -> list[scorecards.Ranked]:
    return scorecards.team_ranking(
        reports_db(), actor(), query["first"], query["last"], current_app.config, city=query.get("city")
    )


def _installers(query: dict) -> list[scorecards.Ranked]:
    return scorecards.installer_ranking(
        reports_db(), actor(), query["first"], query["last"], current_app.config, city=query.get("city")
    )


def ranking_routes(
    level: str,
    path: str,
    query_schema: type,
    read: Callable[[dict], list[scorecards.Ranked]],
    doc: str,
    csv_doc: str,
) -> None:
    """Add one ranking's two routes, `/rankings/<path>` (JSON) and `/rankings/<path>.csv`, as
    the views `<Level>Ranking` and `<Level>RankingCsv`."""

    def get(self, query):
        return _ranking(level, query, read(query))

    def get_csv(self, query):
        body = scorecards.ranking_csv(read(query), query["first"], query["last"])
        return csv_response(body, f"ranking-{path}-{query['first']}-{query['last']}.csv")

    get.__doc__, get_csv.__doc__ = doc, csv_doc
    name = f"{level.capitalize()}Ranking"
    for suffix, func, out, options in (
        ("", get, RankingOut, {}),
        (".csv", get_csv, CSV, {"content_type": "text/csv"}),
    ):
        view = requires(*READERS)(
            blp.arguments(query_schema, location="query")(
                blp.response(200, out, headers=READ_FROM, **options)(func)
            )
        )
        blp.route(f"/rankings/{path}{suffix}")(
            type(name + ("Csv" if suffix else ""), (MethodView,), {"get": view})
        )


ranking_routes(
    "provider",
    "providers",
    ProviderRankingQuery,
    _providers,
    """Providers ranked nationwide.

        By the 95% Wilson lower bound of the very-satisfied rate, with n and the interval; below
        RANKING_MIN_RATED ratings 'not_ranked' (no score, no place, listed last). Ties: larger n,
        then code. A provider sees its own place only.
        """,
    """Providers ranked nationwide, as CSV.""",
)
ranking_routes(
    "team",
    "teams",
    RankingQuery,
    _teams,
    """Each city's provider teams ranked within the city (cities by name).""",
    """Each city's provider teams ranked within the city, as CSV.""",
)
ranking_routes(
    "installer",
    "installers",
    RankingQuery,
    _installers,
    """Installers ranked nationwide (or on their work in one city).""",
    """Installers ranked, as CSV.""",
)


@blp.route("/rankings/watch-list")
class WatchList(MethodView):
    @requires(Role.SUPERVISOR)
    @blp.arguments(WatchListQuery, location="query")
    @blp.response(200, WatchListOut, headers=READ_FROM)
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
            "items": scorecards.watch_list(reports_db(), actor(), query["first"], query["last"], cfg),
        }
