"""Headquarters supervisors' pages (role `supervisor`): the complaints with their status moves
(open -> investigating -> closed, with a note) and the orders nobody covers, with an assign form
(to a chosen provider, or routed by today's coverage); and the providers' delivery log (every
notice, delivery and attempt). The same domain calls as the API's POST /complaints/{id}/status,
POST /work-orders/{id}/assign and GET /notices."""

from __future__ import annotations

import secrets
from typing import Any

from flask import current_app, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from dispatch import notices
from dispatch.audit import complaints
from dispatch.models import ComplaintStatus, Provider, Role, WorkOrder, utcnow
from dispatch.orders import booking, queries
from dispatch.platform.errors import Conflict, Invalid, NotFound
from dispatch.reference import catalogue
from dispatch.web import forms, once, present
from dispatch.web.blueprint import bp
from dispatch.web.context import actor, db
from dispatch.web.security import signed_in

SUPERVISOR = Role.SUPERVISOR.value
NOTE_MAX = 2000
STATUS_WORDS = present.COMPLAINT_STATUSES


@bp.get("/supervise/complaints")
@signed_in(SUPERVISOR)
def sv_complaints() -> ResponseReturnValue:
    """Every complaint, newest first; filtered by status."""
    status = request.args.get("status", "")
    if status not in STATUS_WORDS:
        status = ""
    items, total = complaints.list_complaints(
        db(), actor(), complaints.ComplaintFilter(status=status or None), page=1, per_page=200
    )
    page = render_template(
        "web/supervise/complaints.html",
        items=items,
        total=total,
        status=status,
        statuses=STATUS_WORDS,
        about=present.complaints_words(db(), items),
        my_tz=str(session.get("tz") or "UTC"),
    )
    db().rollback()
    return page


def _complaint_page(
    complaint_id: int,
    status: int = 200,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> ResponseReturnValue:
    try:
        complaint = complaints.complaint_detail(db(), actor(), complaint_id)
        callback = complaints.complaint_answer(db(), actor(), complaint_id)
        order = queries.get_order(db(), actor(), complaint.work_order_id)
    except NotFound:
        once.not_found("complaint")
    tz = order.city.timezone
    page = render_template(
        "web/supervise/complaint.html",
        complaint=complaint,
        callback=callback,
        attempts=present.attempts(callback, tz) if callback else [],
        order=order,
        tz=tz,
        moves=sorted(complaints.STATUS_MOVES[ComplaintStatus(complaint.status)], reverse=True),
        form=form or {},
        errors=errors or {},
        problem=problem,
        form_key=secrets.token_urlsafe(16),
    )
    db().rollback()
    return page, status


@bp.get("/supervise/complaints/<int:complaint_id>")
@signed_in(SUPERVISOR)
def sv_complaint(complaint_id: int) -> ResponseReturnValue:
    """One complaint: what it is about, the customer's answer, its history, the status form."""
    return _complaint_page(complaint_id)


@bp.post("/supervise/complaints/<int:complaint_id>/status")
@signed_in(SUPERVISOR)
def sv_complaint_status(complaint_id: int) -> ResponseReturnValue:
    """Move the complaint on (investigating, closed) with a note."""
    form = forms.read("status", "note")
    errors = {}
    if form["status"] not in (ComplaintStatus.INVESTIGATING.value, ComplaintStatus.CLOSED.value):
        errors["status"] = "Choose where the complaint goes: investigating or closed."
    if not form["note"]:
        errors["note"] = "Write a note: what was found or done."
    forms.too_long(form, errors, {"note": NOTE_MAX})
    if errors:
        return _complaint_page(complaint_id, 422, form=form, errors=errors)
    back = url_for("web.sv_complaint", complaint_id=complaint_id)
    key, replayed = once.claim(form, back)
    if replayed is not None:
        return replayed
    try:
        complaints.set_status(
            db(), actor(), complaint_id, form["status"], form["note"], settings=current_app.config
        )
        message = f"Complaint #{complaint_id} is {form['status']} now."
    except NotFound:
        once.give_back(key)
        once.not_found("complaint")
    except Conflict as exc:
        once.give_back(key)
        return _complaint_page(complaint_id, 409, form=form, problem=f"Nothing was saved: {exc.message}.")
    except Invalid as exc:
        once.give_back(key)
        errors = forms.field_errors(exc, "status")
        return _complaint_page(complaint_id, 422, form=form, errors=errors)
    return forms.saved(key, back, message)


def _unassigned_page(
    status: int = 200,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> ResponseReturnValue:
    orders, total = queries.list_orders(
        db(), actor(), queries.OrderFilter(state="unassigned"), page=1, per_page=200
    )
    providers = [p for p in catalogue.list_rows(db(), Provider) if p.active]
    page = render_template(
        "web/supervise/unassigned.html",
        orders=orders,
        total=total,
        providers=providers,
        form=form or {},
        errors=errors or {},
        problem=problem,
        form_key=secrets.token_urlsafe(16),
    )
    db().rollback()
    return page, status


@bp.get("/supervise/unassigned")
@signed_in(SUPERVISOR)
def sv_unassigned() -> ResponseReturnValue:
    """Orders no provider covers, waiting for a supervisor, each with its assign form."""
    return _unassigned_page()


@bp.post("/supervise/unassigned/<int:order_id>/assign")
@signed_in(SUPERVISOR)
def sv_assign(order_id: int) -> ResponseReturnValue:
    """Give the order to the chosen provider, or to whoever today's coverage routes it to."""
    provider = request.form.get("provider", "").strip()
    form: dict[str, Any] = {"order_id": order_id, "provider": provider}
    back = url_for("web.sv_unassigned")
    key, replayed = once.claim(form, back)
    if replayed is not None:
        return replayed
    try:
        order: WorkOrder = booking.assign(
            db(),
            actor(),
            order_id,
            provider_code=provider or None,
        )
        assert order.provider is not None
        message = f"Order #{order_id} assigned to {order.provider.name}."
    except NotFound:
        once.give_back(key)
        once.not_found("order")
    except Conflict as exc:
        once.give_back(key)
        return _unassigned_page(
            409, form=form, problem=f"Order #{order_id}: nothing was saved: {exc.message}."
        )
    except Invalid as exc:
        once.give_back(key)
        words = "; ".join("; ".join(m) for m in exc.fields.values()) or exc.message
        return _unassigned_page(422, form=form, errors={"provider": words[:1].upper() + words[1:] + "."})
    return forms.saved(key, back, message)


@bp.get("/supervise/notices")
@signed_in(SUPERVISOR)
def sv_notices() -> ResponseReturnValue:
    """The providers' delivery log, newest first; filtered by provider."""
    providers = catalogue.list_rows(db(), Provider)
    chosen = request.args.get("provider", "")
    provider = next((p for p in providers if p.code == chosen), None)
    items, total = notices.list_notices(
        db(),
        actor(),
        notices.NoticeFilter(provider_id=provider.id if provider else None),
        page=1,
        per_page=100,
    )
    page = render_template(
        "web/supervise/notices.html",
        items=items,
        total=total,
        providers=providers,
        chosen=provider.code if provider else "",
        now=utcnow(),
    )
    db().rollback()
    return page
