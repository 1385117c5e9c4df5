"""Sales reported by shop staff, or keyed in by an intake agent from a phone call."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from dispatch import intake
from dispatch.api.context import actor, db, setting
from dispatch.api.ratelimit import RATE_LIMITED_RESPONSE, rate_limited
from dispatch.api.schemas import SaleIn, SaleOut
from dispatch.api.security import IDEMPOTENCY_HEADER, requires, writes
from dispatch.models import Role

blp = Blueprint("sales", __name__, url_prefix="/api/v1", description="Report sales")


def window(data: dict | None) -> intake.Window | None:
    """A request's time window as the domain's Window."""
    return intake.Window(data["start"], data["end"]) if data else None


@blp.route("/sales")
class Sales(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER], responses={"429": RATE_LIMITED_RESPONSE})
    @requires(Role.SALES, Role.AGENT)
    @rate_limited("RATE_LIMIT_SALES")
    @writes
    @blp.arguments(SaleIn)
    @blp.response(201, SaleOut)
    def post(self, data):
        """Report a sale: registers the customer and units, and opens routed work orders.

        The customer is matched by phone number in any format. Each item that needs delivery
        and/or installation gets a work order, assigned to the provider covering the city and
        product line: `booked` with an appointment, `pending` without, `unassigned` when no
        provider covers it. An agent keying in a phoned-in sale is recorded as channel `phone`.
        """
        return intake.report_sale(
            db(),
            actor(),
            shop=data["shop"],
            salesperson=data["salesperson"],
            sold_at=data["sold_at"],
            customer=data["customer"],
            items=data["items"],
            appointment=window(data["appointment"]),
            region=setting("DEFAULT_REGION"),
            reminder_hours=setting("PROVIDER_REMINDER_HOURS"),
        )
