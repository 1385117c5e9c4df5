"""Provider notices: the delivery log (a provider reads its own) and providers' webhook endpoints."""

from __future__ import annotations

from flask.views import MethodView

from dispatch import notices
from dispatch.api import schemas as s
from dispatch.api.context import actor, db
from dispatch.api.parsing import Blueprint
from dispatch.api.security import IDEMPOTENCY_HEADER, requires, writes
from dispatch.models import Role

blp = Blueprint(
    "notices",
    __name__,
    url_prefix="/api/v1",
    description="Provider notices (texts, signed webhooks) and their log",
)

READERS = (Role.SUPERVISOR, Role.ADMIN, Role.PROVIDER)


@blp.route("/notices")
class Notices(MethodView):
    @requires(*READERS)
    @blp.arguments(s.NoticeQuery, location="query")
    @blp.response(200, s.NoticePageOut)
    def get(self, query):
        """The notices sent to providers, newest first, each with its deliveries and every attempt.
        A provider sees only its own (`provider_id` is for headquarters)."""
        page, per_page = query.pop("page"), query.pop("per_page")
        items, total = notices.list_notices(
            db(), actor(), notices.NoticeFilter(**query), page=page, per_page=per_page
        )
        return {"items": items, "total": total, "page": page, "per_page": per_page}


@blp.route("/notices/<int:notice_id>")
class Notice(MethodView):
    @requires(*READERS)
    @blp.response(200, s.NoticeOut)
    def get(self, notice_id):
        """One notice with its deliveries and attempts. Another provider's notice is 404."""
        return notices.get_notice(db(), actor(), notice_id)


@blp.route("/providers/<provider_code>/endpoint")
class Endpoint(MethodView):
    @requires(Role.ADMIN, Role.SUPERVISOR)
    @blp.response(200, s.EndpointOut)
    def get(self, provider_code):
        """A provider's webhook endpoint (never its secret); 404 when it has none."""
        return notices.get_endpoint(db(), provider_code)

    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @requires(Role.ADMIN)
    @writes
    @blp.arguments(s.EndpointIn)
    @blp.response(200, s.EndpointSecretOut)
    def put(self, data, provider_code):
        """Set or replace a provider's endpoint. Answers a new signing secret, shown this once;
        notices planned from now on are posted there, signed with it (Standard Webhooks)."""
        endpoint, secret = notices.set_endpoint(db(), actor(), provider_code, data["url"])
        return {
            "provider": endpoint.provider,
            "url": endpoint.url,
            "created_at": endpoint.created_at,
            "updated_at": endpoint.updated_at,
            "secret": secret,
        }

    @requires(Role.ADMIN)
    @writes
    @blp.response(204)
    def delete(self, provider_code):
        """Remove a provider's endpoint: deliveries not yet made to it are skipped."""
        notices.remove_endpoint(db(), actor(), provider_code)
