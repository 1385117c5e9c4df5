"""The callback team's console: Next (N) leases the most important callback that can be called
now, the customer card, the answer recorded by keyboard, "not reached" with a reason, and a live
list of who holds which callback. Views are thin: one domain call each, as the API's."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from dispatch.audit import callbacks
from dispatch.models import Callback, Complaint, Rating, Role, User, utcnow
from dispatch.platform.errors import Conflict, Invalid, NotFound
from dispatch.web import forms, once, present
from dispatch.web.blueprint import bp
from dispatch.web.context import actor, db, setting
from dispatch.web.security import is_htmx, signed_in

TEAM = Role.CALLBACK.value
NOTE_MAX = 2000


def _tz() -> str:
    return str(session.get("tz") or "UTC")


def _shift(now: datetime) -> dict[str, int]:
    """This agent's calls recorded today, in the agent's own day (the browser's time zone)."""
    since, until = present.day_bounds(now, _tz())
    return callbacks.agent_calls(db(), actor(), since, until)


def _page(
    status: int = 200,
    *,
    callback: Callback | None = None,
    answer: dict[str, Any] | None = None,
    answer_errors: dict[str, str] | None = None,
    missed: dict[str, Any] | None = None,
    missed_errors: dict[str, str] | None = None,
    problem: str | None = None,
    retake: bool = False,
) -> ResponseReturnValue:
    """The console: the held (or given) callback's card and forms, the live list, the day's count."""
    now = utcnow()
    me = actor()
    shown = callback or callbacks.my_lease(db(), me, now=now)
    card = present.card(db(), shown, now) if shown is not None else None
    board = callbacks.team_board(db(), me, current_app.config, now=now)
    page = render_template(
        "web/callbacks/console.html",
        card=card,
        board=board,
        shift=_shift(now),
        now=now,
        agent_tz=_tz(),
        today=now.astimezone(ZoneInfo(_tz())).date(),
        answer=answer or {},
        answer_errors=answer_errors or {},
        missed=missed or {},
        missed_errors=missed_errors or {},
        problem=problem,
        retake=retake,
        form_key=secrets.token_urlsafe(16),
        ratings=present.RATINGS,
        not_reached=present.NOT_REACHED,
        refresh=int(setting("WEB_LIVE_REFRESH_SECONDS")),
        lease_minutes=float(setting("CALLBACK_LEASE_MINUTES")),
    )
    db().rollback()
    return page, status


@bp.get("/callbacks")
@signed_in(TEAM)
def console() -> ResponseReturnValue:
    """The console: the callback this agent holds, or the Next button; the live list beside it."""
    return _page()


@bp.get("/callbacks/live")
@signed_in(TEAM)
def live() -> ResponseReturnValue:
    """The live list and the day's count (htmx refreshes it every few seconds)."""
    now = utcnow()
    board = callbacks.team_board(db(), actor(), current_app.config, now=now)
    html = render_template(
        "web/callbacks/_live.html",
        board=board,
        shift=_shift(now),
        agent_tz=_tz(),
        today=now.astimezone(ZoneInfo(_tz())).date(),
        now=now,
        oob=True,
    )
    db().rollback()
    return html


def _next_message(found: Callback | None) -> str | None:
    if found is not None:
        return None
    board = callbacks.team_board(db(), actor(), current_app.config, limit=1)
    if board.waiting_total:
        return (
            f"{board.waiting_total} callback{'s are' if board.waiting_total != 1 else ' is'} due, but none "
            "can be called now (outside calling hours at the customer's)."
        )
    if board.next_due_at is not None:
        return f"Nothing to call now. The next callback is due at {present.when(board.next_due_at, _tz())}."
    return "Nothing to call now: the queue is empty."


@bp.post("/callbacks/next")
@signed_in(TEAM)
def take_next() -> ResponseReturnValue:
    """Lease the most important callback that can be called now (or the one already held)."""
    found = callbacks.claim_next(db(), actor(), current_app.config)
    db().commit()
    message = _next_message(found)
    if message:
        flash(message, "notice")
    return redirect(url_for("web.console"), 303)


def _load(callback_id: int) -> Callback:
    try:
        return callbacks.get_callback(db(), callback_id)
    except NotFound:
        abort(404)


def _lease_problem(callback: Callback) -> tuple[str, bool]:
    """Why the agent no longer holds this callback, in plain words; and whether it is free to take."""
    db().expire_all()
    now = utcnow()
    fresh = db().get(Callback, callback.id)
    assert fresh is not None
    if fresh.state == "resolved":
        verdict = present.VERDICTS.get(fresh.verdict or "", fresh.verdict)
        return f"Nothing was saved: this callback was already answered ({verdict}).", False
    if fresh.state == "claimed" and fresh.lease_until is not None and fresh.lease_until >= now:
        holder = db().get(User, fresh.lease_holder_id) if fresh.lease_holder_id else None
        if fresh.lease_holder_id != actor().user_id:
            return (
                "Your hold on this callback ran out and "
                f"{holder.name if holder else 'another agent'} has it now (until "
                f"{present.when(fresh.lease_until, _tz())}). Nothing was saved: tell them what the "
                "customer said.",
                False,
            )
        return "", True
    minutes = float(setting("CALLBACK_LEASE_MINUTES"))
    return (
        f"Your hold on this callback ran out (a hold lasts {minutes:g} minutes), so nothing was saved. "
        "It is still free: press “Take it back and save” to save what you typed.",
        True,
    )


def _saved(callback: Callback) -> str:
    verdict = callback.verdict or ""
    words = present.VERDICTS.get(verdict, verdict)
    message = f"Saved: {words}."
    if verdict == "contradicted":
        complaint = db().scalars(select(Complaint).where(Complaint.callback_id == callback.id)).first()
        if complaint is not None:
            message += f" Complaint #{complaint.id} was opened against {complaint.provider.name}."
    return message


def _then_next(message: str) -> None:
    """After "save and next": lease the next callback in a transaction of its own."""
    if request.form.get("then") == "next":
        found = callbacks.claim_next(db(), actor(), current_app.config)
        db().commit()
        extra = _next_message(found)
        if extra:
            message = f"{message} {extra}"
    flash(message, "success")


@bp.post("/callbacks/<int:callback_id>/answer")
@signed_in(TEAM)
def answer(callback_id: int) -> ResponseReturnValue:
    """Record what the customer said (and the rating): the verdict follows."""
    callback = _load(callback_id)
    form = forms.read("happened", "rating", "note")
    errors = {}
    choices = [value for value, _words in present.answers_for(callback.claim)]
    if not form["happened"]:
        errors["happened"] = f"Choose what the customer said happened (keys 1 to {len(choices)})."
    elif form["happened"] not in choices:
        errors["happened"] = "That is not an answer to this claim."
    if form["rating"] and form["rating"] not in Rating.__members__.values():
        errors["rating"] = "Choose one of the ratings, or none."
    forms.too_long(form, errors, {"note": NOTE_MAX})
    if errors:
        return _page(422, callback=callback, answer=form, answer_errors=errors)
    key, replayed = once.claim({**form, "then": request.form.get("then", "")}, url_for("web.console"))
    if replayed is not None:
        return replayed
    try:
        if request.form.get("retake") == "1":
            callbacks.claim(db(), actor(), callback_id, current_app.config)
        callbacks.answer_by_agent(
            db(),
            actor(),
            callback_id,
            reached=True,
            happened=form["happened"],
            rating=form["rating"] or None,
            note=form["note"] or None,
            settings=current_app.config,
        )
        message = _saved(callback)
        once.done(key, url_for("web.console"), message)
        db().commit()
    except Conflict:
        once.give_back(key)
        problem, free = _lease_problem(callback)
        return _page(409, callback=callback, answer=form, problem=problem, retake=free)
    except Invalid as exc:
        once.give_back(key)
        errors = forms.field_errors(exc, "happened")
        return _page(422, callback=callback, answer=form, answer_errors=errors)
    _then_next(message)
    return redirect(url_for("web.console"), 303)


@bp.post("/callbacks/<int:callback_id>/not-reached")
@signed_in(TEAM)
def missed(callback_id: int) -> ResponseReturnValue:
    """Not reached, with why: no answer, wrong number, or asked to be called later (at a time)."""
    callback = _load(callback_id)
    tz = callback.work_order.customer.city.timezone
    form = {
        "reason": request.form.get("reason", ""),
        "call_at": request.form.get("call_at", "").strip(),
        "note": request.form.get("missed_note", "").strip(),
    }
    errors = {}
    reasons = [value for value, _words, _key in present.NOT_REACHED]
    if form["reason"] not in reasons:
        errors["reason"] = "Choose why the customer was not reached."
    call_at = None
    if form["reason"] == callbacks.CALL_LATER:
        if not form["call_at"]:
            errors["call_at"] = "When did the customer ask to be called? (their time)"
        else:
            call_at = forms.wall_clock(form["call_at"], tz)
            if call_at is None:
                errors["call_at"] = "Give a date and time, like 2026-11-24 14:30."
    if len(form["note"]) > NOTE_MAX:
        errors["missed_note"] = f"At most {NOTE_MAX} characters ({len(form['note'])} now)."
    if errors:
        return _page(422, callback=callback, missed=form, missed_errors=errors)
    key, replayed = once.claim(form, url_for("web.console"))
    if replayed is not None:
        return replayed
    try:
        if request.form.get("retake") == "1":
            callbacks.claim(db(), actor(), callback_id, current_app.config)
        after = callbacks.not_reached(
            db(),
            actor(),
            callback_id,
            reason=form["reason"],
            call_at=call_at,
            note=form["note"] or None,
            settings=current_app.config,
        )
        if after.state == "resolved":
            message = f"Saved: {present.VERDICTS['unreachable']}. That was the last try."
        else:
            message = (
                f"Saved: not reached. Callback #{after.id} is back in the queue, due "
                f"{present.when(after.due_at, tz)} (customer's time)."
            )
        once.done(key, url_for("web.console"), message)
        db().commit()
    except Conflict:
        once.give_back(key)
        problem, free = _lease_problem(callback)
        return _page(409, callback=callback, missed=form, problem=problem, retake=free)
    except Invalid as exc:
        once.give_back(key)
        errors = forms.field_errors(
            exc, "reason", {"reason": "reason", "call_at": "call_at", "note": "missed_note"}
        )
        return _page(422, callback=callback, missed=form, missed_errors=errors)
    _then_next(message)
    return redirect(url_for("web.console"), 303)


@bp.post("/callbacks/<int:callback_id>/release")
@signed_in(TEAM)
def release(callback_id: int) -> ResponseReturnValue:
    """Give the callback back to the queue for another agent."""
    try:
        callbacks.release(db(), actor(), callback_id)
        db().commit()
        flash(f"Callback #{callback_id} is back in the queue.", "notice")
    except (Conflict, NotFound) as exc:
        db().rollback()
        flash(f"Not released: {exc.message}.", "notice")
    return redirect(url_for("web.console"), 303)


@bp.post("/callbacks/<int:callback_id>/renew")
@signed_in(TEAM)
def renew(callback_id: int) -> ResponseReturnValue:
    """Keep holding the callback for another lease period (an htmx request: returns the lease line)."""
    try:
        callback = callbacks.claim(db(), actor(), callback_id, current_app.config)
        db().commit()
        problem = None
    except (Conflict, NotFound) as exc:
        db().rollback()
        callback = _load(callback_id)
        problem = exc.message
    now = utcnow()
    html = render_template(
        "web/callbacks/_lease.html",
        callback=callback,
        agent_tz=_tz(),
        today=now.astimezone(ZoneInfo(_tz())).date(),
        problem=problem,
        now=now,
    )
    if not is_htmx():
        if problem:
            flash(problem, "notice")
        return redirect(url_for("web.console"), 303)
    return Response(html, 200)  # htmx swaps only a 2xx; the fragment says what went wrong
