"""The Flask application factory. Nothing connects at import time."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from dispatch.audit.trail import make_session_factory
from dispatch.platform import logs
from dispatch.platform.config import check_secret_key, load_settings
from dispatch.platform.db import make_engine
from dispatch.platform.reports import ReportsSource


def create_app(config: dict[str, Any] | None = None, *, webhooks: bool = True) -> Flask:
    """Build the app from settings (defaults < TOML file < environment < `config`).

    `webhooks=False` (the operator command) lets it start without the simulator's signing secret;
    its webhooks then refuse every request. It may start without SECRET_KEY too: its page sessions
    then last as long as the process (a random key of its own).
    """
    settings = load_settings(config, webhooks=webhooks)
    if webhooks:
        check_secret_key(settings)  # the pages' sessions are signed with it
    elif not settings.get("SECRET_KEY"):
        settings["SECRET_KEY"] = secrets.token_urlsafe(32)
    # No app-wide static folder: the pages serve their own files and the npm libraries (dispatch/web).
    app = Flask(__name__, static_folder=None)
    app.config.update(settings)
    app.config.update(
        API_TITLE="Dispatch",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # flask-smorest appends the file names (swagger-ui-bundle.js, ...) to this URL: the
        # pinned swagger-ui-dist from npm, served by the app (dispatch/web/assets.py), no CDN.
        OPENAPI_SWAGGER_UI_URL="/static/vendor/swagger-ui/",
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},  # never sends the document anywhere
        JSON_SORT_KEYS=False,
    )
    logging.basicConfig(level=settings["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logs.install(settings)  # no phone number, token or secret in any log line of this process
    if settings["TRUSTED_PROXIES"]:
        n = int(settings["TRUSTED_PROXIES"])
        # Flask's documented way to add WSGI middleware; mypy forbids assigning to a method.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n
        )

    engine = make_engine(settings["DATABASE_URL"])
    app.extensions["dispatch.engine"] = engine
    app.extensions["dispatch.sessions"] = make_session_factory(engine)
    # Scorecards, rankings and statements read from a streaming replica when one is named and
    # keeps up (platform/reports.py), else from the primary.
    app.extensions["dispatch.reports"] = ReportsSource(
        app.extensions["dispatch.sessions"],
        settings["REPORTS_DATABASE_URL"],
        max_lag_seconds=float(settings["REPORTS_MAX_LAG_SECONDS"]),
        health_seconds=float(settings["REPORTS_HEALTH_SECONDS"]),
    )

    from dispatch.api import IdConverter, init_api
    from dispatch.web import init_web

    app.url_map.converters["int"] = IdConverter  # before any route (pages included) is added

    # The pages first: their swagger_ui.html (no inline script, as the Content-Security-Policy
    # demands) is found before flask-smorest's own template of the same name.
    csrf = init_web(app)
    pages = set(app.blueprints)
    init_api(app)
    # The API takes bearer tokens, never the session cookie, so it needs no CSRF token.
    for name in set(app.blueprints) - pages:
        csrf.exempt(app.blueprints[name])
    return app
