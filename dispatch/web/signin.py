"""Signing in and out of the pages: a name and a password (argon2), a signed session cookie."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Response, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from dispatch import auth
from dispatch.models import Role, User
from dispatch.web.blueprint import bp
from dispatch.web.context import db, person
from dispatch.web.security import login_keys, now_seconds, retry_after, signed_in, throttle

log = logging.getLogger(__name__)

# Where each role starts; a role without a console yet gets the home page.
CONSOLES = {
    Role.CALLBACK.value: "web.console",
    Role.AGENT.value: "web.hotline",
    Role.PROVIDER.value: "web.portal",
    Role.SUPERVISOR.value: "web.sv_complaints",
}


def home_of(role: str) -> str:
    """The URL a person of this role starts at."""
    return url_for(CONSOLES.get(role, "web.home"))


def _safe_next(target: str | None) -> str | None:
    # Only a path on this site: never another host (an open redirect would lend our login page
    # to a phishing site).
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


@bp.get("/")
def index() -> ResponseReturnValue:
    """The login page, or the signed-in person's console."""
    who = person()
    if who is not None:
        return redirect(home_of(who.role))
    return render_template("web/login.html", form={}, errors={}, next=_safe_next(request.args.get("next")))


@bp.post("/login")
def login() -> ResponseReturnValue:
    """Check the name and password; too many failures (per account, per address) get a 429."""
    form = {"name": request.form.get("name", "").strip()}
    password = request.form.get("password", "")
    target = _safe_next(request.form.get("next"))
    errors = {}
    if not form["name"]:
        errors["name"] = "Enter your user name."
    if not password:
        errors["password"] = "Enter your password."
    if len(form["name"]) > User.name.type.length or len(password) > 1024:
        errors["name"] = "Wrong user name or password."
    if errors:
        return render_template("web/login.html", form=form, errors=errors, next=target), 422
    keys = login_keys(form["name"])
    wait = throttle().blocked(keys)
    if wait is not None:
        log.warning("login refused: too many failures (account or address)")
        minutes = max(1, round(wait / 60))
        page = render_template(
            "web/login.html",
            form=form,
            errors={},
            next=target,
            refused=(
                f"Too many failed sign-ins for this user name or from this computer. "
                f"Wait {minutes} minute{'s' if minutes != 1 else ''} and try again."
            ),
        )
        return Response(page, 429, {"Retry-After": retry_after(wait)})
    found = auth.check_password(db(), form["name"], password)
    if found is None:
        db().rollback()
        throttle().failed(keys)
        log.info("login failed")
        errors = {"password": "Wrong user name or password, or the account is not active."}
        return render_template("web/login.html", form=form, errors=errors, next=target), 401
    stored = db().get(User, found.user_id)
    stamp = auth.password_stamp(stored.password_hash if stored else None)
    db().commit()  # a hash upgraded to stronger parameters
    session.clear()  # a new session (and CSRF token) for the signed-in person
    session.permanent = True
    session.update(uid=found.user_id, stamp=stamp, seen=now_seconds(), tz=_time_zone(request.form.get("tz", "")))
    log.info("login: user %s (%s)", found.user_id, found.role)
    return redirect(target or home_of(found.role), 303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session."""
    session.clear()
    flash("You are signed out.", "notice")
    return redirect(url_for("web.index"), 303)


@bp.get("/home")
@signed_in()
def home() -> ResponseReturnValue:
    """For a role whose console is not built yet: who is signed in, and where the API is."""
    return render_template("web/home.html")
