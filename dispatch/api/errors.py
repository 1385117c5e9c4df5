"""One error shape for every answer: code, status, message, errors{field: [msg]}; the database
away is a 503 with Retry-After, anything unexpected a bare 500."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from flask import current_app, jsonify
from flask_smorest import Api
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
)
from werkzeug.http import HTTP_STATUS_CODES

from dispatch.platform.errors import DomainError

log = logging.getLogger("dispatch.api")


def flatten(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """Nested validation messages as {"customer.phone": ["..."]}, one key per bad field."""
    if isinstance(errors, dict):
        out: dict[str, list[str]] = {}
        for key, value in errors.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                path = prefix or "_schema"
            for sub, msgs in flatten(value, path).items():
                out.setdefault(sub, []).extend(msgs)
        return out
    if isinstance(errors, list) and all(isinstance(e, str) for e in errors):
        return {prefix or "_schema": list(errors)}
    if isinstance(errors, list):
        out = {}
        for item in errors:
            for sub, msgs in flatten(item, prefix).items():
                out.setdefault(sub, []).extend(msgs)
        return out
    return {prefix or "_schema": [str(errors)]}


class DispatchApi(Api):
    """flask-smorest's Api with one error shape: code, status, message, errors{field: [msg]}."""

    def handle_http_exception(self, error: HTTPException):
        payload, code, headers = super().handle_http_exception(error)
        if "errors" in payload:
            # webargs nests by location ("json", "query", "headers"); the field name is enough.
            by_location = payload["errors"]
            merged: dict[str, list[str]] = {}
            for location_errors in by_location.values() if isinstance(by_location, dict) else [by_location]:
                merged.update(flatten(location_errors))
            payload["errors"] = merged
            if set(merged) == {"_schema"}:  # the body as a whole ("Invalid JSON body.")
                payload.setdefault("message", "; ".join(merged["_schema"]))
            payload.setdefault("message", "invalid " + ", ".join(sorted(merged)))
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers = {**(headers or {}), "Allow": ", ".join(sorted(error.valid_methods))}
        if code == 413:
            limit = current_app.config.get("MAX_CONTENT_LENGTH")
            payload["message"] = f"request body too large: the limit is {limit} bytes"
            payload["errors"] = {"_body": [f"larger than {limit} bytes"]}
        payload.setdefault("message", error.description if code != 500 else "internal error")
        payload.setdefault("errors", {})  # 401, 403, 404, 405 too: one shape for every error
        return payload, code, headers


def handle_domain_error(error: DomainError):
    response = jsonify(
        code=error.status,
        status=HTTP_STATUS_CODES.get(error.status, "Error"),
        message=error.message,
        errors=error.fields,
    )
    response.status_code = error.status
    return response


# Seconds a client is asked to wait (Retry-After) while the database cannot be reached: long
# enough for a PostgreSQL restart or a failover to finish, short enough for a desk to retry.
DATABASE_RETRY_AFTER = 5


# PostgreSQL SQLSTATEs that mean "no usable connection right now", not "your query is wrong":
# class 08 (connection exception), the server shutting down or starting up, too many clients.
_UNAVAILABLE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}


def database_unavailable(error: BaseException) -> bool:
    """True when the error means the database cannot be reached now (retry), not a bug."""
    if isinstance(error, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True  # a pool listener saw a dead connection; or no pooled connection came free
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True  # the driver found its connection closed or broken (InterfaceError too)
    orig = error.orig
    if isinstance(orig, sqlite3.OperationalError):
        # Another process held SQLite's write lock for the whole busy timeout.
        return "database is locked" in str(orig) or "database table is locked" in str(orig)
    if isinstance(error, sa_exc.OperationalError):
        # psycopg gives no SQLSTATE when the failure is the connection itself (refused, dropped).
        sqlstate = getattr(orig, "sqlstate", None)
        return sqlstate is None or sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES
    return False


# Class 40, transaction rollback: PostgreSQL broke a deadlock or a serialization conflict by
# rolling this transaction back. Nothing of it was kept, and the same request succeeds when sent
# again, so it is a 503 to retry (not a 500), but logged as a warning with the SQLSTATE: a
# recurring one points at a lock-order problem worth fixing.
_RETRY_SQLSTATES = {"40001", "40P01"}


def transaction_rolled_back(error: BaseException) -> str | None:
    """The SQLSTATE when the database rolled the transaction back to break a conflict, else None."""
    if isinstance(error, sa_exc.DBAPIError):
        sqlstate = getattr(error.orig, "sqlstate", None)
        if sqlstate in _RETRY_SQLSTATES:
            return sqlstate
    return None


def unavailable_response(message: str):
    """503 with Retry-After in the API's error shape: the client should retry the same request."""
    response = jsonify(code=503, status=HTTP_STATUS_CODES[503], message=message, errors={})
    response.status_code = 503
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


def _database_down(error: BaseException):
    # One line, no trace: the cause is outside the code, and a restart would flood the log.
    log.warning(
        "database unavailable, answering 503: %s", type(getattr(error, "orig", None) or error).__name__
    )
    return unavailable_response(
        f"the database is unavailable; retry in {DATABASE_RETRY_AFTER} s "
        "(send a write again with the same Idempotency-Key: it is done at most once)"
    )


def handle_unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return error
    if database_unavailable(error):
        return _database_down(error)
    sqlstate = transaction_rolled_back(error)
    if sqlstate:
        log.warning("transaction rolled back by the database (SQLSTATE %s), answering 503", sqlstate)
        return unavailable_response(
            f"the request collided with another one and was rolled back; retry in {DATABASE_RETRY_AFTER} s "
            "(send a write again with the same Idempotency-Key: it is done at most once)"
        )
    log.exception("unhandled error")  # the trace goes to the log, never to the client
    return current_app.extensions["dispatch.api"].handle_http_exception(InternalServerError())
