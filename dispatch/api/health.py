"""Liveness and readiness."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import text

from dispatch.api.context import db

blp = Blueprint("health", __name__, url_prefix="/api/v1", description="Is the service up")


@blp.route("/health")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200)
    def get(self):
        """The service answers and its database is reachable."""
        db().execute(text("SELECT 1"))
        return {"status": "ok"}
