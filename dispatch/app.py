"""The Flask application factory. Nothing connects at import time."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from dispatch.audit.trail import make_session_factory
from dispatch.platform import logs
from dispatch.platform.config import load_settings
from dispatch.platform.db import make_engine


def create_app(config: dict[str, Any] | None = None, *, webhooks: bool = True) -> Flask:
    """Build the app from settings (defaults < TOML file < environment < `config`).

    `webhooks=False` (the operator command) lets it start without the simulator's signing secret;
    its webhooks then refuse every request.
    """
    settings = load_settings(config, webhooks=webhooks)
    app = Flask(__name__)
    app.config.update(settings)
    app.config.update(
        API_TITLE="Dispatch",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/",
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

    from dispatch.api import init_api

    init_api(app)
    return app
