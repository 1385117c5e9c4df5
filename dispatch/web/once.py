"""One-time form keys for the pages (hotline, portal, supervisors): a double-submitted form does nothing
twice. The key is kept like an API Idempotency-Key; a second submission replays the first answer
(a redirect and its message)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, NoReturn

from flask import Response, abort, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue

from dispatch.platform import idempotency
from dispatch.platform.errors import Conflict, DomainError, NotFound
from dispatch.web.context import actor, db, sessions, setting


def claim(fields: dict[str, Any], back_to: str) -> tuple[str | None, ResponseReturnValue | None]:
    """The stored answer of the form's first submission to replay, else the key to complete."""
    form_key = request.form.get("form_key", "")
    if not form_key or len(form_key) > 64:
        return None, None
    key = f"web-form:{form_key}"
    # The page has read (the signed-in person, the order) in the request's transaction; end it
    # before the key is claimed in a transaction of its own. Nothing is written before the claim,
    # and on SQLite a transaction holds the database's write lock from its start (BEGIN
    # IMMEDIATE): the claim would wait on its own request until the busy timeout.
    db().rollback()
    try:
        replay = idempotency.claim(
            sessions(),
            actor().user_id or 0,
            key,
            idempotency.request_fingerprint(request.method, request.path, fields),
            lease_seconds=int(setting("IDEMPOTENCY_LEASE_SECONDS")),
            ttl_hours=int(setting("IDEMPOTENCY_TTL_HOURS")),
        )
    except DomainError:  # still being saved, or the same key with other values
        flash("That form was already sent; it was saved once.", "notice")
        return None, redirect(back_to, 303)
    if replay is not None:
        body = replay.body or {}
        if body.get("message"):
            flash(str(body["message"]), "success")
        return None, redirect(str(body.get("location") or back_to), 303)
    return key, None


def done(key: str | None, location: str, message: str) -> None:
    """Store the answer to replay (in the transaction of the change itself)."""
    if key is not None:
        idempotency.complete(db(), actor().user_id or 0, key, 303, {"location": location, "message": message})


def give_back(key: str | None) -> None:
    """Nothing was saved: roll back and free the key for a corrected submission."""
    db().rollback()
    if key is not None:
        idempotency.release(sessions(), actor().user_id or 0, key)


def not_found(what: str) -> NoReturn:
    """A page's 404 (also for another provider's order or complaint, so ids cannot be probed)."""
    page = render_template(
        "web/message.html",
        title="Not found",
        message=f"There is no {what} with this number that you may see.",
    )
    abort(Response(page, 404))


def save(
    fields: dict[str, Any],
    back: str,
    what: str,
    change: Callable[[], str],
    refused: Callable[[str], ResponseReturnValue],
) -> ResponseReturnValue:
    """A form's change made once: `change()` (the domain call, returning the message to show) in
    the transaction that stores the answer to replay; a 404 for what the person may not see, and
    `refused(reason)` (the page again, saying why) when the domain refuses it as a conflict."""
    key, replayed = claim(fields, back)
    if replayed is not None:
        return replayed
    try:
        message = change()
        done(key, back, message)
        db().commit()
    except NotFound:
        give_back(key)
        not_found(what)
    except Conflict as exc:
        give_back(key)
        return refused(exc.message)
    flash(message, "success")
    return redirect(back, 303)


def form_page(template: str, status: int = 200, **context: Any) -> ResponseReturnValue:
    """A page with a form: what was typed (`form`), the errors beside the fields (`errors`), a
    `problem` above them, and a fresh one-time key; the read ends with the page."""
    context.setdefault("form", {})
    context.setdefault("errors", {})
    context.setdefault("problem", None)
    page = render_template(template, form_key=secrets.token_urlsafe(16), **context)
    db().rollback()
    return page, status
