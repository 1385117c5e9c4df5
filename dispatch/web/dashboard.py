"""The supervisors' dashboard (role `supervisor`): today's orders by state, callbacks done and due,
contradictions by provider, each city's ranking (Wilson lower bound with n and the interval), the
watch list, the fines and appeals waiting for a decision, and two charts whose points open the
orders behind them. It refreshes itself (htmx polling); /supervise/wallboard shows the same in big
type without the navigation, for a screen on the wall. Fines are posted or voided and appeals
upheld or rejected on their own pages, with a reason, once. The same domain calls as the API's
GET /scorecards, /rankings, /ledger and POST /ledger/.../decision."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from dispatch.audit import complaints, ledger, scorecards
from dispatch.models import City, Role, utcnow
from dispatch.platform.errors import Invalid, NotFound
from dispatch.reference import catalogue
from dispatch.web import once, present
from dispatch.web.blueprint import bp
from dispatch.web.context import actor, db, reports_db, setting
from dispatch.web.security import signed_in

SUPERVISOR = Role.SUPERVISOR.value
PERIOD_DAYS = 14  # the charts, rankings and contradictions cover the last two weeks
REASON_MAX = 2000
WAITING_MAX = 50


def _my_tz() -> str:
    return str(session.get("tz") or "UTC")


def period(now: datetime) -> tuple[date, date]:
    """The last PERIOD_DAYS local days, ending on the latest 'today' of any city (a city east of
    the reader may be a day ahead of the reader's own date)."""
    zones = {c.timezone for c in catalogue.list_rows(db(), City)} or {"UTC"}
    last = max(now.astimezone(ZoneInfo(z)).date() for z in zones)
    return last - timedelta(days=PERIOD_DAYS - 1), last


def drill(code: str, figure: str, first: date, last: date, city: str | None = None) -> str:
    """The drill-down page of one figure of one provider over a range."""
    args: dict[str, Any] = {
        "code": code,
        "figure": figure,
        "first": first.isoformat(),
        "last": last.isoformat(),
    }
    if city:
        args["city"] = city
    return url_for("web.sv_figure_orders", **args)


@dataclass
class Board:
    """Everything the dashboard shows, read at `now`."""

    now: datetime
    tz: str
    first: date
    last: date
    today: scorecards.DayFigures
    providers: list[scorecards.ScoreRow]
    rankings: dict[str, list[scorecards.Ranked]]
    watched: list[scorecards.Watched]
    fines: list[Any]
    fines_total: int
    appeals: list[Any]
    appeals_total: int
    rate: dict[str, Any]
    rate_chart: str
    not_home_chart: str
    min_rated: int


def board() -> Board:
    """Read the dashboard's figures (the domain calls of the API's reports)."""
    now, tz, cfg = utcnow(), _my_tz(), current_app.config
    first, last = period(now)
    start, end = present.day_bounds(now, tz)
    who = actor()
    providers = scorecards.score_rows(reports_db(), who, scorecards.Level.PROVIDER, first, last)
    per_day = scorecards.score_rows(reports_db(), who, scorecards.Level.PROVIDER, first, last, by_day=True)
    rankings: dict[str, list[scorecards.Ranked]] = defaultdict(list)
    for ranked in scorecards.team_ranking(reports_db(), who, first, last, cfg):
        assert ranked.row.city is not None
        rankings[ranked.row.city.name].append(ranked)
    fines, fines_total = ledger.list_fines(
        db(), who, ledger.FineFilter(status="proposed"), page=1, per_page=WAITING_MAX, settings=cfg
    )
    appeals, appeals_total = ledger.list_appeals(
        db(), who, status="open", provider_id=None, page=1, per_page=WAITING_MAX
    )
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    rate = present.rate_chart(per_day, days, lambda code, day: drill(code, "very_satisfied", day, day))
    not_home = present.not_home_chart(providers, lambda code, figure: drill(code, figure, first, last))
    return Board(
        now=now,
        tz=tz,
        first=first,
        last=last,
        today=scorecards.day_figures(db(), who, start, end, now),
        providers=providers,
        rankings=dict(rankings),
        watched=scorecards.watch_list(reports_db(), who, first, last, cfg),
        fines=fines,
        fines_total=fines_total,
        appeals=appeals,
        appeals_total=appeals_total,
        rate=rate,
        rate_chart=json.dumps(rate),
        not_home_chart=json.dumps(not_home),
        min_rated=int(cfg["RANKING_MIN_RATED"]),
    )


def _render(template: str, **extra: Any) -> ResponseReturnValue:
    page = render_template(
        template, b=board(), refresh=int(setting("WEB_DASHBOARD_REFRESH_SECONDS")), drill=drill, **extra
    )
    db().rollback()
    return page


@bp.get("/supervise")
@signed_in(SUPERVISOR)
def sv_dashboard() -> ResponseReturnValue:
    """The dashboard: today's figures, the charts, rankings, watch list, fines and appeals to decide."""
    return _render("web/supervise/dashboard.html")


@bp.get("/supervise/board")
@signed_in(SUPERVISOR)
def sv_board() -> ResponseReturnValue:
    """The dashboard's figures alone, fetched by the page every WEB_DASHBOARD_REFRESH_SECONDS."""
    return _render("web/supervise/_board.html", wall=False)


@bp.get("/supervise/wallboard")
@signed_in(SUPERVISOR)
def sv_wallboard() -> ResponseReturnValue:
    """The same figures in big type without navigation, refreshing itself, for a wall screen."""
    return _render("web/supervise/wallboard.html", wall=True)


@bp.get("/supervise/wallboard/board")
@signed_in(SUPERVISOR)
def sv_wallboard_board() -> ResponseReturnValue:
    """The wallboard's figures alone (its refresh keeps the wall screen's session alive)."""
    return _render("web/supervise/_board.html", wall=True)


@bp.get("/supervise/providers/<code>/orders")
@signed_in(SUPERVISOR)
def sv_figure_orders(code: str) -> ResponseReturnValue:
    """The orders behind one figure of a provider (a chart's point, a table's number)."""
    figure = request.args.get("figure", "")
    city = request.args.get("city") or None
    try:
        first = date.fromisoformat(request.args.get("first", ""))
        last = date.fromisoformat(request.args.get("last", ""))
    except ValueError:
        return _message(
            400, "Not a range of days", "The link names no range of days (first and last, YYYY-MM-DD)."
        )
    try:
        provider = scorecards.visible_provider(db(), actor(), code)
        items, total = scorecards.figure_orders(
            reports_db(), actor(), code, figure, first, last, city=city, page=1, per_page=200
        )
    except NotFound:
        once.not_found("provider")
    except Invalid as exc:
        words = "; ".join(f"{name}: {'; '.join(m)}" for name, m in exc.fields.items()) or exc.message
        return _message(400, "Not a figure of the scorecards", f"This link cannot be shown ({words}).")
    page = render_template(
        "web/supervise/figure_orders.html",
        provider=provider,
        figure=figure,
        first=first,
        last=last,
        city=city,
        items=items,
        total=total,
    )
    db().rollback()
    return page


def _message(status: int, title: str, message: str) -> ResponseReturnValue:
    return render_template("web/message.html", title=title, message=message), status


# --- fines and appeals: a decision with a reason, once ---------------------------------------------


def _decision_form(choices: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    form = {"decision": request.form.get("decision", ""), "reason": request.form.get("reason", "").strip()}
    errors = {}
    if form["decision"] not in choices:
        errors["decision"] = f"Choose {' or '.join(choices)}."
    if not form["reason"]:
        errors["reason"] = "Write the reason: the provider reads it."
    elif len(form["reason"]) > REASON_MAX:
        errors["reason"] = f"At most {REASON_MAX} characters ({len(form['reason'])} now)."
    return form, errors


def _fine_page(fine_id: int, status: int = 200, **shown: Any) -> ResponseReturnValue:
    """The fine's page; `shown`: what was typed, errors, a problem."""
    try:
        fine = ledger.get_fine(db(), actor(), fine_id, settings=current_app.config)
    except NotFound:
        once.not_found("fine")
    callback = complaints.complaint_answer(db(), actor(), fine.complaint_id) if fine.complaint_id else None
    tz = callback.work_order.city.timezone if callback else _my_tz()
    return once.form_page(
        "web/supervise/fine.html",
        status,
        fine=fine,
        callback=callback,
        attempts=present.attempts(callback, tz) if callback else [],
        tz=tz,
        tz_words="customer's time" if callback else "your time",
        **shown,
    )


@bp.get("/supervise/fines/<int:fine_id>")
@signed_in(SUPERVISOR)
def sv_fine(fine_id: int) -> ResponseReturnValue:
    """One fine: the contradicted claim behind it, and (while proposed) the post-or-void form."""
    return _fine_page(fine_id)


@bp.post("/supervise/fines/<int:fine_id>/decision")
@signed_in(SUPERVISOR)
def sv_fine_decision(fine_id: int) -> ResponseReturnValue:
    """Post or void a proposed fine with a reason; a second submission changes nothing."""
    form, errors = _decision_form(tuple(ledger.FineDecision))
    if errors:
        return _fine_page(fine_id, 422, form=form, errors=errors)

    def decide() -> str:
        fine = ledger.decide_fine(
            db(), actor(), fine_id, form["decision"], form["reason"], settings=current_app.config
        )
        if fine.status == "posted":
            return f"Fine #{fine_id} posted: {present.money(fine.amount_minor, fine.currency)} charged to {fine.provider.name}."
        return f"Fine #{fine_id} voided; nothing is charged."

    return once.save(
        form,
        url_for("web.sv_fine", fine_id=fine_id),
        "fine",
        decide,
        lambda why: _fine_page(fine_id, 409, form=form, problem=f"Nothing was saved: {why}."),
    )


def _appeal_page(appeal_id: int, status: int = 200, **shown: Any) -> ResponseReturnValue:
    """The appeal's page; `shown`: what was typed, errors, a problem."""
    try:
        appeal = ledger.get_appeal(db(), actor(), appeal_id)
    except NotFound:
        once.not_found("appeal")
    return once.form_page(
        "web/supervise/appeal.html",
        status,
        appeal=appeal,
        fine=appeal.fine,
        tz=_my_tz(),
        tz_words="your time",
        **shown,
    )


@bp.get("/supervise/appeals/<int:appeal_id>")
@signed_in(SUPERVISOR)
def sv_appeal(appeal_id: int) -> ResponseReturnValue:
    """One appeal: the fine, the provider's statement, and (while open) the uphold-or-reject form."""
    return _appeal_page(appeal_id)


@bp.post("/supervise/appeals/<int:appeal_id>/decision")
@signed_in(SUPERVISOR)
def sv_appeal_decision(appeal_id: int) -> ResponseReturnValue:
    """Uphold (a linked reversal cancels the fine) or reject an open appeal with a reason, once."""
    form, errors = _decision_form(tuple(ledger.AppealDecision))
    if errors:
        return _appeal_page(appeal_id, 422, form=form, errors=errors)

    def decide() -> str:
        appeal = ledger.decide_appeal(
            db(), actor(), appeal_id, form["decision"], form["reason"], settings=current_app.config
        )
        return f"Appeal #{appeal_id} {present.APPEAL_STATUS[appeal.status]}."

    return once.save(
        form,
        url_for("web.sv_appeal", appeal_id=appeal_id),
        "appeal",
        decide,
        lambda why: _appeal_page(appeal_id, 409, form=form, problem=f"Nothing was saved: {why}."),
    )
