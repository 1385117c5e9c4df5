"""Units cared for: maintenance plans (supervisors), units past due (the hotline), seasonal
campaigns with their preview, run, pause and resume (supervisors)."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from dispatch.api.context import actor, db
from dispatch.api.parsing import Blueprint
from dispatch.api.schemas.care import (
    CampaignIn,
    CampaignOut,
    MaintenancePlanIn,
    MaintenancePlanOut,
    PastDuePageOut,
    PreviewOut,
)
from dispatch.api.schemas.common import NoQuery, PageQuery
from dispatch.api.security import requires, writes
from dispatch.care import campaigns, maintenance, plans
from dispatch.models import Campaign, Role

blp = Blueprint(
    "care", __name__, url_prefix="/api/v1", description="Maintenance plans and seasonal campaigns"
)

HQ = (Role.AGENT, Role.CALLBACK, Role.SUPERVISOR)


@blp.route("/maintenance-plans")
class MaintenancePlans(MethodView):
    @requires(*HQ)
    @blp.arguments(NoQuery, location="query")
    @blp.response(200, MaintenancePlanOut(many=True))
    def get(self, _query):
        """Every maintenance plan, in the order they were created."""
        return plans.list_plans(db())

    @requires(Role.SUPERVISOR)
    @writes
    @blp.arguments(MaintenancePlanIn)
    @blp.response(201, MaintenancePlanOut)
    def post(self, data):
        """Create or update the plan with this code (every change audited)."""
        return plans.upsert_plan(db(), actor(), **data)


@blp.route("/maintenance/past-due")
class PastDue(MethodView):
    @requires(Role.AGENT, Role.SUPERVISOR)
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, PastDuePageOut)
    def get(self, query):
        """Units past their maintenance window with nothing open for it, oldest due first: for the
        hotline to call their owners."""
        items, total = maintenance.past_due(db(), page=query["page"], per_page=query["per_page"])
        return {"items": items, "total": total, **query}


def _out(campaign: Campaign) -> dict:
    return {
        **{c: getattr(campaign, c) for c in CampaignOut().fields if hasattr(campaign, c)},
        "product_lines": campaigns.product_line_codes(db(), campaign),
        "cities": campaigns.city_names(db(), campaign),
    }


@blp.route("/campaigns")
class Campaigns(MethodView):
    @requires(Role.SUPERVISOR)
    @blp.arguments(NoQuery, location="query")
    @blp.response(200, CampaignOut(many=True))
    def get(self, _query):
        """Every campaign, newest first."""
        return [_out(c) for c in campaigns.list_campaigns(db())]

    @requires(Role.SUPERVISOR)
    @writes
    @blp.arguments(CampaignIn)
    @blp.response(201, CampaignOut)
    def post(self, data):
        """Create a campaign, or change a draft with this code (409 once it has run)."""
        return _out(campaigns.save_campaign(db(), actor(), **data))


@blp.route("/campaigns/<int:campaign_id>")
class CampaignItem(MethodView):
    @requires(Role.SUPERVISOR)
    @blp.response(200, CampaignOut)
    def get(self, campaign_id):
        """One campaign with its progress."""
        return _out(campaigns.get_campaign(db(), campaign_id))


@blp.route("/campaigns/<int:campaign_id>/preview")
class CampaignPreview(MethodView):
    @requires(Role.SUPERVISOR)
    @blp.arguments(NoQuery, location="query")
    @blp.response(200, PreviewOut)
    def get(self, _query, campaign_id):
        """Who the campaign would contact now and who it leaves out, counted by reason, with a
        sample of customer ids for each."""
        return campaigns.preview(db(), campaign_id, current_app.config)


def _move(name: str, summary: str, move) -> None:
    def post(self, campaign_id):
        return _out(move(db(), actor(), campaign_id))

    post.__doc__ = summary  # before `requires`, which adds the roles to it
    # As the decorators stacked on a method: `requires` outermost, the response schema innermost.
    view = requires(Role.SUPERVISOR)(writes(blp.response(200, CampaignOut)(post)))
    Move = type(f"Campaign{name.title()}", (MethodView,), {"post": view})
    blp.route(f"/campaigns/<int:campaign_id>/{name}", endpoint=f"campaign_{name}")(Move)


_move("run", "Start a draft campaign: its first batch is requested (409 otherwise).", campaigns.start)
_move(
    "pause", "Pause a running campaign after the batch in hand (409 if it is not running).", campaigns.pause
)
_move(
    "resume",
    "Resume a paused campaign after the last customer it looked at (409 if it is not paused).",
    campaigns.resume,
)
