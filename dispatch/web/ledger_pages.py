"""The providers' portal, its money and marks (role `provider`, phone first): its own scorecard and
rank (with n and the 95% interval), its ledger entries, its monthly statements (and their CSV,
the same file as the API's), its fines with the appeal form, and its appeals with their outcome.
Only the provider's own: another provider's fine or appeal is 404, as in the API. The same domain
calls as GET /scorecards/providers/{code}, /rankings, /ledger/... and POST /ledger/fines/{id}/appeal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, current_app, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from dispatch.audit import complaints, ledger, scorecards
from dispatch.models import Provider, Role, utcnow
from dispatch.platform.errors import Invalid, NotFound
from dispatch.web import once, present
from dispatch.web.blueprint import bp
from dispatch.web.context import actor, db, reports_db
from dispatch.web.dashboard import period
from dispatch.web.security import signed_in

PROVIDER = Role.PROVIDER.value
STATEMENT_MAX = 4000
SCORECARD_DAYS = 30


def _me() -> Provider:
    provider = db().get(Provider, actor().provider_id)
    assert provider is not None, "a provider user belongs to a provider"
    return provider


def _my_tz() -> str:
    return str(session.get("tz") or "UTC")


@bp.get("/portal/scorecard")
@signed_in(PROVIDER)
def portal_scorecard() -> ResponseReturnValue:
    """The provider's scorecard over the last 30 days and its places (nationwide, in each city)."""
    cfg = current_app.config
    _, last = period(utcnow())
    first = last - timedelta(days=SCORECARD_DAYS - 1)
    me = _me()
    card = scorecards.provider_scorecard(reports_db(), actor(), me.code, first, last)
    nationwide = scorecards.provider_ranking(reports_db(), actor(), first, last, cfg)
    teams = scorecards.team_ranking(reports_db(), actor(), first, last, cfg)
    page = render_template(
        "web/portal/scorecard.html",
        card=card,
        rates=card.rates,
        place=nationwide[0] if nationwide else None,
        teams=teams,
        first=first,
        last=last,
        min_rated=int(cfg["RANKING_MIN_RATED"]),
    )
    db().rollback()
    return page


@bp.get("/portal/ledger")
@signed_in(PROVIDER)
def portal_ledger() -> ResponseReturnValue:
    """The provider's fines (to appeal), appeals, ledger entries and monthly statements."""
    cfg = current_app.config
    who = actor()
    fines, fines_total = ledger.list_fines(db(), who, ledger.FineFilter(), page=1, per_page=100, settings=cfg)
    appeals, _ = ledger.list_appeals(db(), who, status=None, provider_id=None, page=1, per_page=100)
    entries, entries_total = ledger.list_entries(db(), who, ledger.EntryFilter(), page=1, per_page=100)
    this_month = ledger.month_of(ledger.ledger_day(utcnow(), cfg))
    months = sorted({this_month, *(ledger.month_of(e.entry_date) for e in entries)}, reverse=True)
    page = render_template(
        "web/portal/ledger.html",
        fines=fines,
        fines_total=fines_total,
        appeals=appeals,
        entries=entries,
        entries_total=entries_total,
        months=months,
        tz=_my_tz(),
        now=utcnow(),
    )
    db().rollback()
    return page


def _statement(month: str) -> ledger.Statement:
    try:
        return ledger.statement(reports_db(), actor(), "provider", _me().code, month)
    except (Invalid, NotFound):
        once.not_found("statement")


@bp.get("/portal/statements/<month>")
@signed_in(PROVIDER)
def portal_statement(month: str) -> ResponseReturnValue:
    """The provider's statement of a month: its fines and their reversals, and the totals."""
    found = _statement(month)
    page = render_template("web/portal/statement.html", st=found)
    db().rollback()
    return page


@bp.get("/portal/statements/<month>.csv")
@signed_in(PROVIDER)
def portal_statement_csv(month: str) -> ResponseReturnValue:
    """The same statement as CSV: the API's file (one line per entry, then the totals)."""
    found = _statement(month)
    body = ledger.statement_csv(found)
    db().rollback()
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="statement-{found.code}-{month}.csv"'
    return response


def _fine_page(fine_id: int, status: int = 200, **shown: Any) -> ResponseReturnValue:
    """One of the provider's fines; `shown`: what was typed, errors, a problem."""
    try:
        fine = ledger.get_fine(db(), actor(), fine_id, settings=current_app.config)
    except NotFound:
        once.not_found("fine")
    callback = complaints.complaint_answer(db(), actor(), fine.complaint_id) if fine.complaint_id else None
    now = utcnow()
    until = fine.appeal_until if fine.status == "posted" and fine.appeal is None else None
    return once.form_page(
        "web/portal/fine.html",
        status,
        fine=fine,
        callback=callback,
        attempts=present.attempts(callback, callback.work_order.city.timezone) if callback else [],
        tz=_my_tz(),
        may_appeal=until is not None and now <= until,
        window_passed=until is not None and now > until,
        **shown,
    )


@bp.get("/portal/fines/<int:fine_id>")
@signed_in(PROVIDER)
def portal_fine(fine_id: int) -> ResponseReturnValue:
    """One of the provider's fines: why, how much, the customer's answer, and the appeal."""
    return _fine_page(fine_id)


@bp.post("/portal/fines/<int:fine_id>/appeal")
@signed_in(PROVIDER)
def portal_appeal(fine_id: int) -> ResponseReturnValue:
    """Appeal a posted fine with a statement, within the window, once."""
    form: dict[str, Any] = {"statement": request.form.get("statement", "").strip()}
    errors = {}
    if not form["statement"]:
        errors["statement"] = "Write your case: what happened, and why the fine is wrong."
    elif len(form["statement"]) > STATEMENT_MAX:
        errors["statement"] = f"At most {STATEMENT_MAX} characters ({len(form['statement'])} now)."
    if errors:
        return _fine_page(fine_id, 422, form=form, errors=errors)

    def appeal() -> str:
        filed = ledger.file_appeal(db(), actor(), fine_id, form["statement"], settings=current_app.config)
        return f"Appeal #{filed.id} filed against fine #{fine_id}. Headquarters will decide it."

    return once.save(
        form,
        url_for("web.portal_fine", fine_id=fine_id),
        "fine",
        appeal,
        lambda why: _fine_page(fine_id, 409, form=form, problem=f"The appeal was not filed: {why}."),
    )
