"""Users, for headquarters IT: list them, deactivate or activate one (its tokens follow at once)."""

from __future__ import annotations

from flask.views import MethodView

from dispatch import auth
from dispatch.api.context import actor, db
from dispatch.api.parsing import Blueprint
from dispatch.api.schemas import NoQuery, UserActiveIn, UserOut
from dispatch.api.security import IDEMPOTENCY_HEADER, requires, writes
from dispatch.models import Role

blp = Blueprint("users", __name__, url_prefix="/api/v1", description="Users and their access")


@blp.route("/users")
class Users(MethodView):
    @requires(Role.ADMIN)
    @blp.arguments(NoQuery, location="query")
    @blp.response(200, UserOut(many=True))
    def get(self, _query):
        """List users with their roles and whether they are active (tokens are never shown)."""
        return auth.list_users(db())


@blp.route("/users/<int:user_id>/active")
class UserActive(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @requires(Role.ADMIN)
    @writes
    @blp.arguments(UserActiveIn)
    @blp.response(200, UserOut)
    def post(self, data, user_id):
        """Deactivate a user (every one of its tokens gets 401 at once) or activate it again.

        Revoked tokens stay revoked. An admin cannot deactivate itself (422).
        """
        return auth.set_user_active(db(), actor(), user_id=user_id, active=data["active"])
