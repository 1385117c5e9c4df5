"""HTTP only: schemas and thin views. Every error is JSON naming the bad fields (errors.py)."""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from dispatch.api.context import close_db, say_where_read
from dispatch.api.errors import DispatchApi, handle_domain_error, handle_unexpected
from dispatch.api.parsing import JSONProvider
from dispatch.platform import redis_client
from dispatch.platform.errors import DomainError


class IdConverter(IntegerConverter):
    """`<int:...>` in paths: ids are PostgreSQL integers, so a larger number is a 404, not a 500."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _refuse_oversized_body() -> None:
    # Refuse by the declared length before authenticating or reading anything, whatever the
    # content type.
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if not limit:
        return
    if request.content_length is not None:
        if request.content_length > limit:
            raise RequestEntityTooLarge()
        return
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        # No declared length: Werkzeug reads such a body up to the limit and silently drops the
        # rest, so an oversized body reached the parser cut short ("Invalid JSON body"). Read it
        # now (at most the limit, kept for the parser), then look for one byte more.
        request.get_data(cache=True)
        if request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()


def init_api(app: Flask) -> DispatchApi:
    """Register the API's blueprints, its error handlers and its security scheme."""
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "security": [{"bearerAuth": []}],
            "info": {
                "description": (
                    "Dispatch puts headquarters between customers and local service providers: "
                    "sales become routed work orders, providers close them, and every claim is "
                    "checked with the customer. Authenticate with `Authorization: Bearer <token>`."
                )
            },
        },
    )
    redis_client.check(app.config)  # a bad REDIS_SENTINELS stops start-up, naming the setting
    app.json = JSONProvider(app)  # request.get_json() within the API's nesting and number limits
    app.url_map.converters["int"] = IdConverter  # before any route is added
    api = DispatchApi(app)
    app.extensions["dispatch.api"] = api
    api.spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "A token from `dispatch token create`"},
    )
    from dispatch.api import (
        callbacks,
        care,
        complaints,
        contacts,
        customers,
        health,
        ledger,
        notices,
        reference,
        sales,
        scorecards,
        users,
        webhooks,
        work_orders,
    )

    for module in (
        health,
        sales,
        customers,
        contacts,
        work_orders,
        reference,
        webhooks,
        callbacks,
        complaints,
        users,
        scorecards,
        ledger,
        notices,
        care,
    ):
        api.register_blueprint(module.blp)
    app.before_request(_refuse_oversized_body)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
    app.teardown_appcontext(close_db)
    app.after_request(say_where_read)
    return api
