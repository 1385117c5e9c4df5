"""Authentication, role checks and the write wrapper (transaction + Idempotency-Key)."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Response, g, request
from flask_smorest import abort
from sqlalchemy.exc import SQLAlchemyError

from dispatch import auth
from dispatch.api.context import db, sessions, setting
from dispatch.platform import idempotency

IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "maxLength": idempotency.MAX_KEY_LENGTH},
    "description": (
        "Any unique string (a UUID). Retrying with the same key and body replays the first "
        "response and creates nothing twice; the same key with another body is refused (422); "
        "while the first request is still running, 409. Keys are kept for 48 hours per caller. "
        "A sale sent with `Prefer: respond-async` keeps its key with its receipt instead (for good, "
        "and apart from synchronous keys): retry it with the same `Prefer`."
    ),
}

log = logging.getLogger(__name__)


def requires(*roles: str) -> Callable:
    """Let only bearer tokens of these roles through: 401 without a valid token, 403 otherwise."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            caller = auth.authenticate(db(), token.strip()) if scheme.lower() == "bearer" else None
            if db().get_bind().dialect.name == "sqlite":
                # End the read: on SQLite every transaction holds the write lock, and the
                # Idempotency-Key claim below runs in a transaction of its own. (PostgreSQL reads
                # on in the same transaction: a round trip less per request.)
                db().rollback()
            if caller is None:
                abort(401, message="a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
            elif caller.role not in roles:
                abort(403, message=f"role {caller.role} may not do this")
            g.actor = caller
            return view(*args, **kwargs)

        wrapper.__doc__ = (view.__doc__ or "").rstrip() + "\n\nRoles: " + ", ".join(roles) + "."
        return wrapper

    return decorator


def request_fingerprint() -> str:
    """A hash of this request's method, path and body (what an Idempotency-Key stands for)."""
    body = request.get_json(silent=True)
    if body is None:
        body = request.get_data(as_text=True)
    return idempotency.request_fingerprint(request.method, request.path, body)


def writes(view: Callable | None = None, *, view_keeps_key: Callable[[], bool] | None = None) -> Callable:
    """Commit the view's work, or roll it back on any error; honour an Idempotency-Key.

    With a key, the stored response is committed in the same transaction as the work, so a
    replayed key always finds either nothing done or the response that describes what was done.
    When `view_keeps_key()` is true for a request, the view keeps the key itself (in the row it
    writes) and only the transaction is handled here.
    """
    if view is None:
        return functools.partial(writes, view_keeps_key=view_keeps_key)

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        key = request.headers.get("Idempotency-Key")
        user_id = g.actor.user_id
        if key is not None and (not key.strip() or len(key) > idempotency.MAX_KEY_LENGTH):
            abort(422, errors={"json": {"Idempotency-Key": ["must be 1 to 255 characters"]}})
        if key is not None and view_keeps_key is not None and view_keeps_key():
            key = None  # nothing to claim, complete or release here
        elif key is not None:
            replay = idempotency.claim(
                sessions(),
                user_id,
                key,
                request_fingerprint(),
                lease_seconds=setting("IDEMPOTENCY_LEASE_SECONDS"),
                ttl_hours=setting("IDEMPOTENCY_TTL_HOURS"),
            )
            if replay is not None:
                return replayed(replay)
        try:
            response = view(*args, **kwargs)
            if key is not None and 200 <= response.status_code < 300:
                idempotency.complete(db(), user_id, key, response.status_code, response.get_json())
            db().commit()
            return response
        except BaseException:
            _undo(user_id, key)
            raise

    return wrapper


def replayed(replay: idempotency.Replay) -> Response:
    """The stored first response to an Idempotency-Key, marked as replayed."""
    response = Response(json.dumps(replay.body), replay.status, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _undo(user_id: int, key: str | None) -> None:
    """Roll the request's work back and free its key, never replacing the error being raised.

    With the database down both steps fail too; their error must not turn the 503 the original
    error gives into a 500. An unreleased key's lease expires by itself (409 until then).
    """
    try:
        db().rollback()
    except SQLAlchemyError as exc:
        log.warning("rollback after a failed request failed: %s", type(exc).__name__)
    if key is not None:
        try:
            idempotency.release(sessions(), user_id, key)
        except SQLAlchemyError as exc:
            log.warning("Idempotency-Key not released (its lease will expire): %s", type(exc).__name__)
