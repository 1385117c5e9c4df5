"""Liveness and readiness."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import text

from dispatch.api.context import db


class HealthOut(ma.Schema):
    status = fields.String(metadata={"example": "ok"})


blp = Blueprint("health", __name__, url_prefix="/api/v1", description="Is the service up")


@blp.route("/health")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthOut)
    def get(self):
        """The service answers and its database is reachable."""
        db().execute(text("SELECT 1"))
        return {"status": "ok"}
