"""Liveness and readiness."""

from __future__ import annotations

import logging

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from dispatch.api.context import db
from dispatch.api.errors import DATABASE_RETRY_AFTER, unavailable_response

log = logging.getLogger(__name__)


class HealthOut(ma.Schema):
    status = fields.String(metadata={"example": "ok"})


blp = Blueprint("health", __name__, url_prefix="/api/v1", description="Is the service up")


@blp.route("/health")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthOut)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self):
        """The service answers and its database is reachable; 503 when it is not."""
        try:
            db().execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            # Any failure here means "take this host out of rotation", whatever its kind.
            log.warning("health: database down: %s", type(exc).__name__)
            return unavailable_response(f"the database is down; retry in {DATABASE_RETRY_AFTER} s")
        return {"status": "ok"}
