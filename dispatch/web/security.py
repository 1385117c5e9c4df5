"""The pages' protections: security headers on every response, the login session checked against
the database on every request (and ended after inactivity), role checks, CSRF refusals, and the
throttle on failed logins."""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError

from dispatch import auth
from dispatch.platform.ratelimit import FailureThrottle
from dispatch.platform.redis_client import make_redis, redis_configured
from dispatch.web.context import db, person, setting

log = logging.getLogger(__name__)

# No inline script or style anywhere: scripts and styles come from this app's own files.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"
)


def headers(response: Response) -> Response:
    """Security headers on every response of the app (pages, API, static files)."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.blueprint == "web" and request.endpoint not in ("web.static", "web.vendor"):
        # Pages carry customers' personal data: never kept by the browser or a proxy.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def is_htmx() -> bool:
    """Whether htmx (not a full page load) made this request."""
    return request.headers.get("HX-Request") == "true"


def to_login(message: str | None = None, status: int = 302) -> ResponseReturnValue:
    """Send the browser to the login page; htmx is told to load it as a whole page."""
    if message:
        flash(message, "notice")
    target = url_for("web.index")
    if is_htmx():
        return Response("", 401, {"HX-Redirect": target})
    return redirect(target, status)


def csrf_refused(error: CSRFError) -> ResponseReturnValue:
    """A form or htmx request without a valid CSRF token: refused, nothing done."""
    log.info("CSRF refused on %s: %s", request.path, error.description)
    if is_htmx():
        return Response("This page is out of date: reload it.", 400)
    return (
        render_template(
            "web/message.html",
            title="This form has expired",
            message=(
                "The form was sent without its security token, or from a page older than your "
                "sign-in. Nothing was saved. Go back, reload the page, and try again."
            ),
        ),
        400,
    )


def now_seconds() -> float:
    """The clock used for session idle times (a function, so that tests can move it)."""
    return time.time()


# Endpoints that a page calls on its own (the live list refreshing): they do not count as the
# person being active, so an unattended console still ends after WEB_SESSION_IDLE_MINUTES. (The
# wallboard's refresh does count: a screen on the wall is meant to stay signed in.)
PASSIVE = {"web.live", "web.sv_board"}


def load_person() -> ResponseReturnValue | None:
    """Before every page request: who is signed in, checked against the database each time.

    A session of a deactivated user (or provider), or from before a password change, ends at once;
    one left idle longer than WEB_SESSION_IDLE_MINUTES ends too.
    """
    g.web_actor = None
    if request.endpoint in ("web.static", "web.vendor"):
        return None
    user_id = session.get("uid")
    if user_id is None:
        return None
    now = now_seconds()
    idle = float(setting("WEB_SESSION_IDLE_MINUTES")) * 60
    if now - float(session.get("seen", 0)) > idle:
        session.clear()
        return to_login(
            f"You were signed out after {setting('WEB_SESSION_IDLE_MINUTES'):g} minutes without activity."
        )
    found = auth.session_actor(db(), int(user_id), str(session.get("stamp", "")))
    db().rollback()  # end the read (on SQLite every transaction holds the write lock)
    if found is None:
        session.clear()
        log.info("page session of user %s ended: user deactivated or password changed", user_id)
        return to_login("You were signed out: your account was deactivated or its password changed.")
    g.web_actor = found
    if request.endpoint not in PASSIVE:
        session["seen"] = now
    return None


def signed_in(*roles: str) -> Callable:
    """Only a signed-in person of one of these roles: others go to the login page, or get a 403."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            who = person()
            if who is None:
                return to_login("Please sign in.")
            if roles and who.role not in roles:
                return (
                    render_template(
                        "web/message.html",
                        title="Not for your role",
                        message=f"This page is for the {', '.join(roles)} role; you are signed in as {who.role}.",
                    ),
                    403,
                )
            return view(*args, **kwargs)

        return wrapper

    return decorator


def throttle() -> FailureThrottle:
    """The app's failed-login counter (Redis, shared by every web process)."""
    ext = current_app.extensions
    if "dispatch.login_throttle" not in ext:
        config = current_app.config
        redis = (
            make_redis(config, socket_connect_timeout=0.5, socket_timeout=0.5)
            if redis_configured(config)
            else None
        )
        ext["dispatch.login_throttle"] = FailureThrottle(
            redis,
            {
                "account": str(config["LOGIN_FAILURES_PER_ACCOUNT"]),
                "address": str(config["LOGIN_FAILURES_PER_ADDRESS"]),
            },
            prefix=f"{config['QUEUE_PREFIX']}-login",
        )
    return ext["dispatch.login_throttle"]


def login_keys(name: str) -> dict[str, str]:
    """What failed logins are counted by: the account name typed, and the caller's address."""
    return {"account": name.strip().casefold(), "address": request.remote_addr or "unknown"}


def retry_after(seconds: float) -> str:
    """Seconds for a Retry-After header (at least 1)."""
    return str(max(1, math.ceil(seconds)))
