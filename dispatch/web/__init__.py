"""Pages only (the browser consoles): templates and thin views over the same domain calls as the
API. Held by the same import rules as dispatch.api (setup.cfg's import contracts): never imports
the API or the jobs.

`init_web(app)` registers the pages, their login sessions, CSRF protection (Flask-WTF) and the
security headers every response carries. The front-end libraries come from npm (package.json)
and are served from an allow-list (assets.py); the app's own CSS and JS are in static/.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_wtf.csrf import CSRFError, CSRFProtect

from dispatch.web import (  # noqa: F401 - their routes register on bp
    assets,
    callbacks,
    care,
    context,
    dashboard,
    hotline,
    ledger_pages,
    portal,
    security,
    signin,
    supervise,
)
from dispatch.web.blueprint import bp


def init_web(app: Flask) -> CSRFProtect:
    """Register the pages on the app; returns the CSRF protection (the API's blueprints, which
    take bearer tokens and no cookies, are exempted by the app factory)."""
    app.config.update(
        SESSION_COOKIE_NAME="dispatch_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # SESSION_COOKIE_SECURE comes from the settings.
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=float(app.config["WEB_SESSION_IDLE_MINUTES"])),
        # The token lives as long as the login session (which expires on its own); a form left
        # open for an hour must not fail for that alone.
        WTF_CSRF_TIME_LIMIT=None,
    )
    csrf = CSRFProtect(app)
    assets.check(app)
    app.register_blueprint(bp)
    app.after_request(security.headers)
    app.register_error_handler(CSRFError, security.csrf_refused)
    app.teardown_appcontext(context.close_db)
    return csrf
