"""The providers' portal (role `provider`), made for a phone on site: today's and upcoming orders
with the address, the appointment in the customer's local time and what to do; one order with its
close form (the same domain call as the API's close); the provider's complaints, read-only, with
the customer's answer; and the notices headquarters sent it (each change, each visit reminder) with
every delivery attempt. A provider sees only its own provider's data: another provider's order or
complaint is 404, as in the API."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, render_template, session, url_for
from flask.typing import ResponseReturnValue

from dispatch import notices, visits
from dispatch.audit import complaints
from dispatch.models import Callback, Complaint, Installer, Outcome, Role, WorkOrder, utcnow
from dispatch.orders import queries
from dispatch.platform.errors import Conflict, Invalid, NotFound
from dispatch.platform.ratelimit import over_limit
from dispatch.reference import catalogue
from dispatch.web import forms, once, present
from dispatch.web.blueprint import bp
from dispatch.web.context import actor, db
from dispatch.web.security import signed_in

PROVIDER = Role.PROVIDER.value
NOTE_MAX = 2000
OUTCOMES = [(Outcome.COMPLETED.value, "Completed"), (Outcome.NOT_COMPLETED.value, "Not completed")]


def local_day(order: WorkOrder, now: datetime) -> date:
    """Today on the wall clock of the order's city."""
    return now.astimezone(ZoneInfo(order.city.timezone)).date()


def slot(order: WorkOrder, now: datetime) -> str:
    """The appointment in the customer's local time: 'Today 09:00-12:00' or 'Tue 24 Nov 09:00-12:00'."""
    if order.appointment_start is None:
        return "No date yet (pending)"
    zone = ZoneInfo(order.city.timezone)
    start = order.appointment_start.astimezone(zone)
    day = "Today" if start.date() == local_day(order, now) else start.strftime("%a %d %b")
    end = order.appointment_end.astimezone(zone).strftime("-%H:%M") if order.appointment_end else ""
    return f"{day} {start:%H:%M}{end}"


def todo(order: WorkOrder) -> str:
    """What to do, in a few words: the job and the unit (and the fault of a repair)."""
    words = f"{present.KINDS.get(order.kind, order.kind)} of {order.unit.product_model.name}"
    if order.fault_description:
        words += f": {order.fault_description}"
    return words


@dataclass
class WorkList:
    """The provider's open orders in the groups a person on site reads them in."""

    overdue: list[WorkOrder] = field(default_factory=list)
    today: list[WorkOrder] = field(default_factory=list)
    upcoming: list[WorkOrder] = field(default_factory=list)
    pending: list[WorkOrder] = field(default_factory=list)


def work_list(orders: list[WorkOrder], now: datetime) -> WorkList:
    """Group open orders by their appointment's local day (each in its customer's city)."""
    out = WorkList()
    for order in orders:
        if order.appointment_start is None:
            out.pending.append(order)
            continue
        day = order.appointment_start.astimezone(ZoneInfo(order.city.timezone)).date()
        today = local_day(order, now)
        if day < today:
            out.overdue.append(order)
        elif day == today:
            out.today.append(order)
        else:
            out.upcoming.append(order)
    return out


@bp.get("/portal")
@signed_in(PROVIDER)
def portal() -> ResponseReturnValue:
    """The provider's work: overdue, today's, upcoming and pending orders."""
    now = utcnow()
    orders = queries.open_orders(db(), actor())
    page = render_template(
        "web/portal/orders.html", work=work_list(orders, now), now=now, slot=slot, todo=todo
    )
    db().rollback()
    return page


def _load(order_id: int) -> WorkOrder:
    try:
        return queries.order_detail(db(), actor(), order_id)
    except NotFound:
        once.not_found("order")


def _installers() -> list[Installer]:
    return [i for i in catalogue.list_installers(db(), actor()) if i.active]


def _order_page(
    order: WorkOrder,
    status: int = 200,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> ResponseReturnValue:
    now = utcnow()
    tz = order.city.timezone
    callbacks = sorted(order.callbacks, key=lambda c: c.id)
    page = render_template(
        "web/portal/order.html",
        order=order,
        tz=tz,
        now=now,
        slot=slot,
        todo=todo,
        open=order.state in ("pending", "booked"),
        installers=_installers(),
        outcomes=OUTCOMES,
        reasons=present.REASONS,
        form=form or {"visited_at": now.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")},
        errors=errors or {},
        problem=problem,
        form_key=secrets.token_urlsafe(16),
        checks=[(c, present.attempts(c, tz)) for c in callbacks],
    )
    db().rollback()
    return page, status


@bp.get("/portal/orders/<int:order_id>")
@signed_in(PROVIDER)
def portal_order(order_id: int) -> ResponseReturnValue:
    """One order of this provider: where, when, what to do, its history, and the close form."""
    return _order_page(_load(order_id))


@bp.post("/portal/orders/<int:order_id>/close")
@signed_in(PROVIDER)
def portal_close(order_id: int) -> ResponseReturnValue:
    """Close the order: outcome, reason (when not completed), installer, visit time and note."""
    order = _load(order_id)
    tz = order.city.timezone
    form = forms.read("outcome", "reason", "installer_id", "visited_at", "note")
    errors: dict[str, str] = {}
    if form["outcome"] not in dict(OUTCOMES):
        errors["outcome"] = "Choose whether the job was completed."
    if form["outcome"] == Outcome.NOT_COMPLETED and not form["reason"]:
        errors["reason"] = "Choose why the job was not completed."
    elif form["reason"] and form["reason"] not in present.REASONS:
        errors["reason"] = "Choose one of the reasons."
    elif form["reason"] and form["outcome"] == Outcome.COMPLETED:
        errors["reason"] = "A completed job has no reason: leave it empty, or choose “Not completed”."
    if not form["installer_id"].isdigit():
        errors["installer_id"] = "Choose the installer who did the visit."
    visited_at = forms.wall_clock(form["visited_at"], tz) if form["visited_at"] else None
    if not form["visited_at"]:
        errors["visited_at"] = "When was the visit? (the customer's time)"
    elif visited_at is None:
        errors["visited_at"] = "Give a date and time, like 2026-11-24 14:30."
    forms.too_long(form, errors, {"note": NOTE_MAX})
    if errors:
        return _order_page(order, 422, form=form, errors=errors)
    assert visited_at is not None
    back = url_for("web.portal_order", order_id=order_id)
    key, replayed = once.claim(form, back)
    if replayed is not None:
        return replayed
    # The API's limit on closings (each plans a call to a customer), counted with the API's.
    over = over_limit(current_app.extensions, current_app.config, "RATE_LIMIT_CLOSE", str(actor().user_id))
    if over is not None:
        once.give_back(key)
        limit, wait = over
        problem = (
            f"Nothing was saved: your account closed too many orders in a short time (at most {limit}). "
            f"Send the form again in {wait} s; what you typed is kept below."
        )
        return _order_page(order, 429, form=form, problem=problem)
    reason = form["reason"] or None
    try:
        visits.close_order(
            db(),
            actor(),
            order_id,
            outcome=form["outcome"],
            reason=reason,
            installer_id=int(form["installer_id"]),
            visited_at=visited_at,
            note=form["note"] or None,
            settings=current_app.config,
        )
        if reason is None:
            message = f"Order #{order_id} closed: completed. Headquarters will check it with the customer."
        else:
            message = (
                f"Order #{order_id} closed: not completed, {present.REASONS[reason]}. "
                "Headquarters will check it with the customer."
            )
    except Conflict as exc:
        once.give_back(key)
        return _order_page(_load(order_id), 409, form=form, problem=f"Nothing was saved: {exc.message}.")
    except Invalid as exc:
        once.give_back(key)
        return _order_page(
            _load(order_id), 422, form=form, errors=forms.field_errors(exc, "outcome", sentence=True)
        )
    return forms.saved(key, back, message)


def _complaint(complaint_id: int) -> tuple[Complaint, Callback | None]:
    try:
        complaint = complaints.complaint_detail(db(), actor(), complaint_id)
        return complaint, complaints.complaint_answer(db(), actor(), complaint_id)
    except NotFound:
        once.not_found("complaint")


@bp.get("/portal/complaints")
@signed_in(PROVIDER)
def portal_complaints() -> ResponseReturnValue:
    """This provider's complaints, newest first (read-only)."""
    items, total = complaints.list_complaints(
        db(), actor(), complaints.ComplaintFilter(), page=1, per_page=100
    )
    page = render_template(
        "web/portal/complaints.html",
        items=items,
        total=total,
        about=present.complaints_words(db(), items),
        my_tz=str(session.get("tz") or "UTC"),
    )
    db().rollback()
    return page


@bp.get("/portal/complaints/<int:complaint_id>")
@signed_in(PROVIDER)
def portal_complaint(complaint_id: int) -> ResponseReturnValue:
    """One complaint with the customer's answer (what was verified, what the robot heard); read-only."""
    complaint, callback = _complaint(complaint_id)
    order = _load(complaint.work_order_id)
    tz = order.city.timezone
    page = render_template(
        "web/portal/complaint.html",
        complaint=complaint,
        callback=callback,
        attempts=present.attempts(callback, tz) if callback else [],
        order=order,
        tz=tz,
    )
    db().rollback()
    return page


@bp.get("/portal/notices")
@signed_in(PROVIDER)
def portal_notices() -> ResponseReturnValue:
    """What headquarters told this provider (texts, webhooks), newest first, with each attempt."""
    items, total = notices.list_notices(db(), actor(), notices.NoticeFilter(), page=1, per_page=50)
    page = render_template("web/portal/notices.html", items=items, total=total, now=utcnow())
    db().rollback()
    return page
