"""Work orders: the providers' work list, closing a visit, booking and rescheduling, repairs."""

from __future__ import annotations

from flask import current_app, jsonify
from flask.views import MethodView
from marshmallow import RAISE

from dispatch import visits
from dispatch.api.context import actor, db, setting
from dispatch.api.parsing import Blueprint
from dispatch.api.ratelimit import RATE_LIMITED_RESPONSE, rate_limited
from dispatch.api.sales import required_window, window
from dispatch.api.schemas import (
    AssignIn,
    BookIn,
    CancelIn,
    CloseIn,
    RepairIn,
    SalesWorkOrderOut,
    WorkOrderDetailOut,
    WorkOrderOut,
    WorkOrderPageOut,
    WorkOrderQuery,
)
from dispatch.api.security import IDEMPOTENCY_HEADER, requires, writes
from dispatch.models import Role
from dispatch.orders import booking, queries, repairs

blp = Blueprint("work_orders", __name__, url_prefix="/api/v1", description="Work orders")

READERS = (Role.AGENT, Role.PROVIDER, Role.CALLBACK, Role.SUPERVISOR, Role.ADMIN)


@blp.route("/work-orders")
class WorkOrders(MethodView):
    @requires(*READERS)
    # Unknown query parameters are refused too: a misspelt filter must not silently widen a list.
    @blp.arguments(WorkOrderQuery, location="query", unknown=RAISE)
    @blp.response(200, WorkOrderPageOut)
    def get(self, query):
        """List work orders, filtered and paged. A provider sees only its own orders."""
        page, per_page = query.pop("page"), query.pop("per_page")
        items, total = queries.list_orders(
            db(), actor(), queries.OrderFilter(**query), page=page, per_page=per_page
        )
        return {"items": items, "total": total, "page": page, "per_page": per_page}


@blp.route("/work-orders/<int:order_id>")
class WorkOrder(MethodView):
    @requires(*READERS)
    @blp.response(200, WorkOrderDetailOut)
    def get(self, order_id):
        """One work order with its visits and full history. Another provider's order is 404."""
        return queries.order_detail(db(), actor(), order_id)


@blp.route("/work-orders/<int:order_id>/close")
class CloseOrder(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER], responses={"429": RATE_LIMITED_RESPONSE})
    @requires(Role.PROVIDER)
    @rate_limited("RATE_LIMIT_CLOSE")
    @writes
    @blp.arguments(CloseIn)
    @blp.response(200, WorkOrderOut)
    def post(self, data, order_id):
        """Close an open order with its outcome: completed, or not completed with a reason.

        The installer must belong to the order's provider. Closing an order that is not open
        (closing twice, say) is 409 and changes nothing.
        """
        return visits.close_order(db(), actor(), order_id, settings=current_app.config, **data).work_order


@blp.route("/work-orders/<int:order_id>/cancel")
class CancelOrder(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @requires(Role.AGENT, Role.SUPERVISOR)
    @writes
    @blp.arguments(CancelIn)
    @blp.response(200, WorkOrderOut)
    def post(self, data, order_id):
        """Cancel an open order (the customer withdrew, the unit went back to the shop), with a reason.

        An order that is not open (closed, cancelled) is 409 and changes nothing.
        """
        return booking.cancel_order(
            db(), actor(), order_id, reason=data["reason"], settings=current_app.config
        )


@blp.route("/work-orders/<int:order_id>/assign")
class AssignOrder(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @requires(Role.SUPERVISOR)
    @writes
    @blp.arguments(AssignIn)
    @blp.response(200, WorkOrderOut)
    def post(self, data, order_id):
        """Give an unassigned order a provider: the one named, or whoever coverage routes it to now."""
        return booking.assign(
            db(),
            actor(),
            order_id,
            provider_code=data["provider"],
        )


_SALES_ORDER_OUT = SalesWorkOrderOut()


@blp.route("/work-orders/<int:order_id>/appointment")
class Appointment(MethodView):
    @blp.doc(
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            # anyOf, not oneOf: neither schema closes its properties, so a whole order fits both.
            "200": {
                "description": "The order: whole for the call centre, without its customer for shop staff",
                "content": {"application/json": {"schema": {"anyOf": [WorkOrderOut, SalesWorkOrderOut]}}},
            },
            "429": RATE_LIMITED_RESPONSE,
        },
    )
    @requires(Role.AGENT, Role.SUPERVISOR, Role.SALES)
    @rate_limited("RATE_LIMIT_APPOINTMENTS")
    @writes
    @blp.arguments(BookIn)
    @blp.response(200, WorkOrderOut)
    def put(self, data, order_id):
        """Book a pending order for a time window, or move a booked one; history keeps both.

        Shop staff (`sales`) may move only the orders of a sale they reported themselves, within
        `SALES_APPOINTMENT_HOURS` of reporting it and before the first visit; any other order is
        404 to them, as one that does not exist. They get the order back without its customer
        (`SalesWorkOrderOut`); the call centre gets the whole order (`WorkOrderOut`).
        """
        order = booking.book(
            db(),
            actor(),
            order_id,
            required_window(data["window"]),
            sales_hours=setting("SALES_APPOINTMENT_HOURS"),
        )
        if actor().role == Role.SALES:
            # A Response, so that flask-smorest passes it through instead of dumping a WorkOrderOut.
            return jsonify(_SALES_ORDER_OUT.dump(order))
        return order


@blp.route("/repairs")
class Repairs(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @requires(Role.AGENT)
    @writes
    @blp.arguments(RepairIn)
    @blp.response(201, WorkOrderOut)
    def post(self, data):
        """Open a repair for a registered unit (by serial number or unit id), routed like any order.

        A repair of the same unit for the same fault category links to the earlier one
        (`repeat_of_id`), so repeat repairs are visible to supervisors.
        """
        return repairs.open_repair(
            db(),
            actor(),
            serial_number=data.get("serial_number"),
            unit_id=data.get("unit_id"),
            fault_category=data["fault_category"],
            fault_description=data["fault_description"],
            appointment=window(data["appointment"]),
            settings=current_app.config,
        )
