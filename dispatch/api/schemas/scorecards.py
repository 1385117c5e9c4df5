"""Scorecards, their drill-down to orders and evidence, rankings and the watch list."""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from dispatch.api.schemas.common import ID_RANGE, PageOut, PageQuery, Strict
from dispatch.api.schemas.evidence import HeardOut
from dispatch.api.schemas.sales import ProviderRefOut
from dispatch.models import FIGURES

LEVELS = ("provider", "team", "installer")
# As the column holds them. (Filters on providers and installers take ids, as the other lists do:
# one free-text parameter per list keeps a fuzzed URL under the server's 4 KB request line.)
CITY = validate.Length(min=1, max=120)
# Days no record can have; the domain refuses them too.
YEARS = validate.Range(min=date(2000, 1, 1), max=date(2999, 12, 31), error="must lie in the years 2000 to 2999")


class RangeQuery(Strict):
    """One local day, or a range of them (first and last included)."""

    day = fields.Date(validate=YEARS, metadata={"description": "One day (YYYY-MM-DD), the customer's local day"})
    from_ = fields.Date(
        data_key="from", validate=YEARS, metadata={"description": "First day of a range (with `to`)"}
    )
    to = fields.Date(validate=YEARS, metadata={"description": "Last day of a range, included (at most 366 days)"})

    @validates_schema
    def _day_or_range(self, data, **_kw):
        has_day, has_from, has_to = "day" in data, "from_" in data, "to" in data
        if has_day and (has_from or has_to):
            raise ma.ValidationError("give either day, or from and to", "day")
        if not has_day and not (has_from and has_to):
            missing = "to" if has_from else "from" if has_to else "day"
            raise ma.ValidationError("give a day, or from and to", missing)

    @ma.post_load
    def _first_last(self, data, **_kw):
        day = data.pop("day", None)
        data["first"] = day or data.pop("from_")
        data["last"] = day or data.pop("to")
        return data


class PagedRangeQuery(RangeQuery, PageQuery):
    pass


class ScorecardQuery(PagedRangeQuery):
    level = fields.String(
        load_default="provider",
        validate=validate.OneOf(LEVELS),
        metadata={"description": "provider (nationwide) | team (a provider in one city) | installer"},
    )
    provider_id = fields.Integer(strict=False, validate=ID_RANGE, metadata={"description": "One provider"})
    city = fields.String(validate=CITY, metadata={"description": "A city's name"})
    installer_id = fields.Integer(strict=False, validate=ID_RANGE, metadata={"description": "One installer"})
    by_day = fields.Boolean(load_default=False, metadata={"description": "One row per subject and day"})


class ProviderScorecardQuery(RangeQuery):
    pass


class FigureOrdersQuery(PagedRangeQuery):
    figure = fields.String(
        required=True,
        validate=validate.OneOf(FIGURES),
        metadata={"description": "The figure whose orders to list: " + ", ".join(FIGURES)},
    )
    city = fields.String(validate=CITY, metadata={"description": "Only the provider's team in this city"})
    installer_id = fields.Integer(strict=False, validate=ID_RANGE, metadata={"description": "Only this installer's"})


class RankingQuery(RangeQuery):
    city = fields.String(validate=CITY, metadata={"description": "Only this city (teams, installers)"})


class ProviderRankingQuery(RangeQuery):
    pass


class WatchListQuery(RangeQuery):
    pass


class InstallerRefOut(ma.Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class FiguresOut(ma.Schema):
    """The counters (see docs/guarantees/ledger.md for what each counts)."""

    dispatched = fields.Integer(metadata={"description": "Orders given to the provider"})
    closed = fields.Integer(metadata={"description": "Visits reported (closings)"})
    first_visit_completed = fields.Integer(metadata={"description": "Reported completed on the first visit"})
    not_home_claims = fields.Integer(metadata={"description": "Closings claiming 'customer not home'"})
    verdicts = fields.Integer(metadata={"description": "Callbacks verified with the customer (verdicts)"})
    confirmed = fields.Integer()
    contradicted = fields.Integer(metadata={"description": "Claims the customer contradicted"})
    unreachable = fields.Integer(metadata={"description": "Callbacks ended without reaching the customer"})
    not_home_checked = fields.Integer(metadata={"description": "Verdicts on 'customer not home' claims"})
    not_home_contradicted = fields.Integer(metadata={"description": "... of them contradicted"})
    rated = fields.Integer(metadata={"description": "Answers with a rating (n)"})
    very_satisfied = fields.Integer()
    complaints = fields.Integer(metadata={"description": "Complaints opened"})


class RatesOut(ma.Schema):
    """Shares of the figures; null where the denominator is 0 (no score, not 0%)."""

    very_satisfied_rate = fields.Float(allow_none=True, metadata={"description": "very_satisfied / rated"})
    not_home_contradicted_share = fields.Float(
        allow_none=True, metadata={"description": "not_home_contradicted / not_home_checked"}
    )
    contradicted_share = fields.Float(allow_none=True, metadata={"description": "contradicted / verdicts"})
    first_visit_share = fields.Float(allow_none=True, metadata={"description": "first_visit_completed / closed"})


class ScoreRowOut(ma.Schema):
    provider = fields.Nested(ProviderRefOut)
    city = fields.String(attribute="city_name", allow_none=True, metadata={"description": "Teams only"})
    installer = fields.Nested(InstallerRefOut, allow_none=True)
    day = fields.Date(allow_none=True, metadata={"description": "With by_day: the local day"})
    figures = fields.Nested(FiguresOut, attribute="counts")
    rates = fields.Nested(RatesOut)


class ScorecardPageOut(PageOut):
    items = fields.List(fields.Nested(ScoreRowOut))


class ProviderScorecardOut(ma.Schema):
    provider = fields.Nested(ProviderRefOut)
    from_ = fields.Date(attribute="first", data_key="from")
    to = fields.Date(attribute="last")
    total = fields.Nested(FiguresOut)
    rates = fields.Nested(RatesOut)
    days = fields.List(fields.Nested(ScoreRowOut), metadata={"description": "Days with data only"})
    teams = fields.List(fields.Nested(ScoreRowOut), metadata={"description": "Per city"})
    installers = fields.List(fields.Nested(ScoreRowOut))


class AgentOut(ma.Schema):
    id = fields.Integer()
    name = fields.String()


class AnswerOut(ma.Schema):
    """The attempt on which the customer answered: what was heard, or the agent who took it."""

    attempt_id = fields.Integer(attribute="id")
    channel = fields.String(metadata={"description": "voice | sms | human"})
    status = fields.String()
    language = fields.String(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    answer_happened = fields.String(allow_none=True)
    answer_rating = fields.String(allow_none=True)
    heard = fields.List(fields.Nested(HeardOut), metadata={"description": "What the robot heard, and how it read it"})


class EvidenceVisitOut(ma.Schema):
    id = fields.Integer()
    outcome = fields.String()
    reason = fields.String(allow_none=True)
    visited_at = fields.DateTime()
    closed_at = fields.DateTime()


class EvidenceCallbackOut(ma.Schema):
    id = fields.Integer()
    purpose = fields.String()
    claim = fields.String()
    verdict = fields.String(allow_none=True)
    rating = fields.String(allow_none=True)
    answer_happened = fields.String(allow_none=True)
    answer_channel = fields.String(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)


class EvidenceOrderOut(ma.Schema):
    id = fields.Integer()
    kind = fields.String()
    state = fields.String()
    city = fields.String(attribute="city.name")
    product_line = fields.String(attribute="product_line.code")


class EvidenceOut(ma.Schema):
    figure = fields.String()
    day = fields.Date(metadata={"description": "The customer's local day it counted on"})
    at = fields.DateTime(metadata={"description": "When it was recorded"})
    source = fields.String(attribute="fact.source", metadata={"description": "dispatch | closing | verdict | complaint"})
    work_order = fields.Nested(EvidenceOrderOut)
    installer = fields.Nested(InstallerRefOut, allow_none=True)
    visit = fields.Nested(EvidenceVisitOut, allow_none=True)
    callback = fields.Nested(EvidenceCallbackOut, allow_none=True)
    answer = fields.Nested(AnswerOut, allow_none=True, metadata={"description": "The customer's verified answer"})
    agent = fields.Nested(AgentOut, allow_none=True, metadata={"description": "The agent who took the answer"})
    complaint_id = fields.Integer(allow_none=True)


class EvidencePageOut(PageOut):
    items = fields.List(fields.Nested(EvidenceOut))


class IntervalOut(ma.Schema):
    lower = fields.Float(allow_none=True)
    upper = fields.Float(allow_none=True)


class RankedOut(ma.Schema):
    rank = fields.Integer(allow_none=True, metadata={"description": "1 = best; null when not ranked"})
    of = fields.Integer(metadata={"description": "How many were ranked in its group"})
    status = fields.String(metadata={"description": "ranked | not_ranked"})
    provider = fields.Nested(ProviderRefOut, attribute="row.provider")
    city = fields.String(attribute="row.city_name", allow_none=True, metadata={"description": "Teams only"})
    installer = fields.Nested(InstallerRefOut, attribute="row.installer", allow_none=True)
    n = fields.Integer(attribute="rated", metadata={"description": "Ratings (n)"})
    very_satisfied = fields.Integer()
    rate = fields.Float(allow_none=True, metadata={"description": "very_satisfied / n (ranked only)"})
    score = fields.Float(
        allow_none=True, metadata={"description": "The 95% Wilson lower bound of the rate (ranked only)"}
    )
    interval = fields.Nested(
        IntervalOut, metadata={"description": "The 95% Wilson score interval; null bounds without ratings"}
    )


class RankingOut(ma.Schema):
    level = fields.String(metadata={"description": "provider | team | installer"})
    from_ = fields.Date(attribute="first", data_key="from")
    to = fields.Date(attribute="last")
    min_rated = fields.Integer(metadata={"description": "RANKING_MIN_RATED: fewer ratings, not ranked"})
    items = fields.List(fields.Nested(RankedOut))


class WatchEvidenceOut(ma.Schema):
    work_order_id = fields.Integer()
    callback_id = fields.Integer(attribute="source_id")
    day = fields.Date(attribute="cell.day")
    at = fields.DateTime()


class WatchedOut(ma.Schema):
    provider = fields.Nested(ProviderRefOut, attribute="team.provider")
    city = fields.String(attribute="team.city.name")
    checked = fields.Integer(metadata={"description": "Not-home claims checked with the customer"})
    contradicted = fields.Integer()
    share = fields.Float()
    city_median = fields.Float()
    points_above = fields.Float(metadata={"description": "Percentage points above the city's median"})
    evidence = fields.List(fields.Nested(WatchEvidenceOut), metadata={"description": "The contradicting verdicts"})


class WatchListOut(ma.Schema):
    from_ = fields.Date(attribute="first", data_key="from")
    to = fields.Date(attribute="last")
    points = fields.Float(metadata={"description": "RANKING_WATCH_POINTS"})
    min_contradicted = fields.Integer(metadata={"description": "RANKING_WATCH_MIN_CONTRADICTED"})
    items = fields.List(fields.Nested(WatchedOut))
