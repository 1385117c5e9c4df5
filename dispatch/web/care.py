"""Seasonal campaigns for supervisors (define, preview counted by reason, run, pause, resume) and
the units past their maintenance for the hotline desk. The same domain calls as the API's
/campaigns and /maintenance/past-due."""

from __future__ import annotations

import secrets
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from dispatch.care import campaigns, maintenance
from dispatch.models import City, ProductLine, Role
from dispatch.platform.errors import Conflict, Invalid, NotFound
from dispatch.reference.catalogue import list_rows
from dispatch.web import once
from dispatch.web.blueprint import bp
from dispatch.web.context import actor, db
from dispatch.web.security import signed_in

SUPERVISOR = Role.SUPERVISOR.value
DESK = Role.AGENT.value
TEXT_MAX = 480
MOVES = {"run": campaigns.start, "pause": campaigns.pause, "resume": campaigns.resume}
MOVE_WORDS = {"run": "started", "pause": "paused", "resume": "resumed"}


def _list_page(
    status: int = 200, *, form: dict[str, Any] | None = None, errors: dict[str, str] | None = None
) -> tuple[str, int]:
    page = render_template(
        "web/supervise/campaigns.html",
        items=campaigns.list_campaigns(db()),
        lines=list_rows(db(), ProductLine),
        cities=list_rows(db(), City),
        form=form or {"batch_size": "500", "product_lines": [], "cities": []},
        errors=errors or {},
        form_key=secrets.token_urlsafe(16),
        tab="campaigns",
    )
    db().rollback()
    return page, status


@bp.get("/supervise/campaigns")
@signed_in(SUPERVISOR)
def sv_campaigns() -> ResponseReturnValue:
    """Every campaign with its state and progress, and the form to define a new one."""
    return _list_page()


@bp.post("/supervise/campaigns")
@signed_in(SUPERVISOR)
def sv_campaign_new() -> ResponseReturnValue:
    """Define a campaign (or change a draft with the same code); bad fields are named beside them."""
    form: dict[str, Any] = {
        "code": request.form.get("code", "").strip()[:40],
        "name": request.form.get("name", "").strip()[:120],
        "product_lines": request.form.getlist("product_lines"),
        "cities": request.form.getlist("cities"),
        "text_en": request.form.get("text_en", "").strip(),
        "text_zh": request.form.get("text_zh", "").strip(),
        "batch_size": request.form.get("batch_size", "").strip(),
    }
    errors: dict[str, str] = {}
    for field, words in (("code", "a code"), ("name", "a name")):
        if not form[field]:
            errors[field] = f"Give the campaign {words}."
    for field in ("text_en", "text_zh"):
        if len(form[field]) > TEXT_MAX:
            errors[field] = f"At most {TEXT_MAX} characters."
    try:
        batch_size = int(form["batch_size"])
    except ValueError:
        batch_size = 0
        errors["batch_size"] = "A whole number between 1 and 10000."
    if errors:
        return _list_page(422, form=form, errors=errors)
    back = url_for("web.sv_campaigns")
    key, replayed = once.claim(form, back)
    if replayed is not None:
        return replayed
    try:
        campaign = campaigns.save_campaign(
            db(),
            actor(),
            code=form["code"],
            name=form["name"],
            product_lines=form["product_lines"],
            cities=form["cities"],
            texts={"en": form["text_en"], "zh-CN": form["text_zh"]},
            batch_size=batch_size,
        )
        location = url_for("web.sv_campaign", campaign_id=campaign.id)
        message = f"Campaign {campaign.code} saved. Check its preview before you run it."
        once.done(key, location, message)
        db().commit()
    except Invalid as exc:
        once.give_back(key)
        for path, messages in exc.fields.items():
            name = {"texts.en": "text_en", "texts.zh-CN": "text_zh"}.get(path, path.split(".")[0])
            errors[name] = "; ".join(messages)[:1].upper() + "; ".join(messages)[1:] + "."
        return _list_page(422, form=form, errors=errors)
    except Conflict as exc:
        once.give_back(key)
        return _list_page(409, form=form, errors={"code": exc.message[:1].upper() + exc.message[1:] + "."})
    flash(message, "success")
    return redirect(location, 303)


@bp.get("/supervise/campaigns/<int:campaign_id>")
@signed_in(SUPERVISOR)
def sv_campaign(campaign_id: int) -> ResponseReturnValue:
    """One campaign: its definition, the preview counted by reason (with a sample), and its moves."""
    try:
        campaign = campaigns.get_campaign(db(), campaign_id)
    except NotFound:
        once.not_found("campaign")
    preview = campaigns.preview(db(), campaign_id, current_app.config)
    page = render_template(
        "web/supervise/campaign.html",
        campaign=campaign,
        lines=campaigns.product_line_codes(db(), campaign),
        cities=campaigns.city_names(db(), campaign),
        preview=preview,
        form_key=secrets.token_urlsafe(16),
        tab="campaigns",
    )
    db().rollback()
    return page


@bp.post("/supervise/campaigns/<int:campaign_id>/<any(run, pause, resume):move>")
@signed_in(SUPERVISOR)
def sv_campaign_move(campaign_id: int, move: str) -> ResponseReturnValue:
    """Run, pause or resume a campaign; a move its state does not allow says why and saves nothing."""
    back = url_for("web.sv_campaign", campaign_id=campaign_id)
    key, replayed = once.claim({"campaign_id": campaign_id, "move": move}, back)
    if replayed is not None:
        return replayed
    try:
        campaign = MOVES[move](db(), actor(), campaign_id)
        message = f"Campaign {campaign.code} {MOVE_WORDS[move]}."
        once.done(key, back, message)
        db().commit()
    except NotFound:
        once.give_back(key)
        once.not_found("campaign")
    except Conflict as exc:
        once.give_back(key)
        flash(f"Nothing was changed: {exc.message}.", "notice")
        return redirect(back, 303)
    flash(message, "success")
    return redirect(back, 303)


@bp.get("/hotline/maintenance-due")
@signed_in(DESK)
def past_due() -> ResponseReturnValue:
    """Units past their maintenance with nothing open for it: the owners to call (a desk section)."""
    items, total = maintenance.past_due(db(), per_page=50)
    page = render_template("web/hotline/_past_due.html", items=items, total=total)
    db().rollback()
    return page
