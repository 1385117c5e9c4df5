"""Sales reported by shop staff, or keyed in by an intake agent from a phone call."""

from __future__ import annotations

from flask import jsonify, request, url_for
from flask.views import MethodView
from marshmallow import RAISE

from dispatch.api.context import actor, catalogue, db, setting
from dispatch.api.parsing import Blueprint
from dispatch.api.ratelimit import RATE_LIMITED_RESPONSE, rate_limited
from dispatch.api.schemas import SaleIn, SaleOut, SaleReceiptOut, SaleReceiptPageOut, SaleReceiptQuery
from dispatch.api.security import IDEMPOTENCY_HEADER, replayed, request_fingerprint, requires, writes
from dispatch.models import Role
from dispatch.orders import booking
from dispatch.platform import idempotency
from dispatch.sales import intake, receipts

blp = Blueprint("sales", __name__, url_prefix="/api/v1", description="Report sales")

PREFER_HEADER = {
    "in": "header",
    "name": "Prefer",
    "required": False,
    "schema": {"type": "string", "example": "respond-async"},
    "description": (
        "`respond-async` (RFC 7240): the sale is checked and stored at once and answered `202` "
        "with a receipt; the worker registers it within seconds (follow `Location`). For shop "
        "systems posting many sales. Without it the sale is registered before the answer (`201`)."
    ),
}


def window(data: dict | None) -> booking.Window | None:
    """A request's time window as the domain's Window (None when it has none)."""
    return required_window(data) if data else None


def required_window(data: dict) -> booking.Window:
    """A window the request's schema requires, as the domain's Window."""
    return booking.Window(data["start"], data["end"])


def prefers_async() -> bool:
    """True when the request carries `Prefer: respond-async` (RFC 7240, any case, any position)."""
    for header in request.headers.getlist("Prefer"):
        for preference in header.split(","):
            if preference.split(";")[0].split("=")[0].strip().lower() == "respond-async":
                return True
    return False


def _report(data: dict) -> intake.SaleReport:
    return intake.SaleReport(
        shop=data["shop"],
        salesperson=data["salesperson"],
        sold_at=data["sold_at"],
        customer=data["customer"],
        items=data["items"],
        appointment=window(data["appointment"]),
    )


_RECEIPT_OUT = SaleReceiptOut()  # built once: a schema's construction costs more than its dump


def _receipt_response(receipt, *, replayed: bool):
    # A Response, so that flask-smorest passes it through instead of dumping it as a SaleOut.
    response = jsonify(_RECEIPT_OUT.dump(receipts.ReceiptView(receipt)))
    response.status_code = 202
    response.headers["Location"] = url_for("sales.SaleReceipt", receipt_id=receipt.id)
    response.headers["Preference-Applied"] = "respond-async"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _accept(report: intake.SaleReport, key: str | None):
    # Before the request's first query: a reload of the catalogue reads on a connection of its own,
    # and on SQLite every transaction holds the write lock (it would wait on this request's).
    known = catalogue(city=report.customer["city"], models=[i["model"] for i in report.items])
    if key is not None:
        # A key first used without `Prefer: respond-async` answers as it did then.
        first = idempotency.stored(db(), actor().user_id, key, request_fingerprint())
        if first is not None:
            return replayed(first)
    receipt, again = receipts.accept(
        db(),
        actor(),
        report,
        catalogue=known,
        region=setting("DEFAULT_REGION"),
        key=key,
        request_hash=request_fingerprint(),
    )
    return _receipt_response(receipt, replayed=again)


@blp.route("/sales")
class Sales(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER, PREFER_HEADER], responses={"429": RATE_LIMITED_RESPONSE})
    @requires(Role.SALES, Role.AGENT)
    @rate_limited("RATE_LIMIT_SALES")
    @writes(view_keeps_key=prefers_async)
    # An instance, not the class: webargs would build a SaleIn (and its nested schemas) per request.
    @blp.arguments(SaleIn())
    @blp.alt_response(202, schema=SaleReceiptOut, description="Accepted (`Prefer: respond-async`)")
    @blp.response(201, SaleOut)
    def post(self, data):
        """Report a sale: registers the customer and units, and opens routed work orders.

        The customer is matched by phone number in any format. Each item that needs delivery
        and/or installation gets a work order, assigned to the provider covering the city and
        product line: `booked` with an appointment, `pending` without, `unassigned` when no
        provider covers it. An agent keying in a phoned-in sale is recorded as channel `phone`.

        With `Prefer: respond-async` the same checks run (a bad sale is still a 422 naming the
        field) and the sale is kept as a receipt, answered `202` with its `Location`; the worker
        registers it within seconds. Its Idempotency-Key replays the same receipt, with or
        without the preference; a key first used without it replays the first answer either way.
        """
        report = _report(data)
        key = request.headers.get("Idempotency-Key")
        if prefers_async():
            return _accept(report, key)
        if key is not None:
            # A key first used with `Prefer: respond-async` answers with its receipt, as it did then.
            receipt = receipts.by_key(db(), actor().user_id, key, request_fingerprint())
            if receipt is not None:
                return _receipt_response(receipt, replayed=True)
        return intake.report_sale(
            db(),
            actor(),
            report,
            region=setting("DEFAULT_REGION"),
        )


RECEIPT_READERS = (Role.SALES, Role.AGENT, Role.SUPERVISOR, Role.ADMIN)


@blp.route("/sale-receipts")
class SaleReceipts(MethodView):
    @requires(*RECEIPT_READERS)
    @blp.arguments(SaleReceiptQuery, location="query", unknown=RAISE)
    @blp.response(200, SaleReceiptPageOut)
    def get(self, query):
        """Sales accepted with `Prefer: respond-async`, newest first; filter `status=rejected` to chase.

        Sales staff see the receipts they reported; the call centre sees all.
        """
        page, per_page = query.pop("page"), query.pop("per_page")
        items, total = receipts.list_receipts(
            db(), actor(), status=query.get("status"), page=page, per_page=per_page
        )
        return {"items": items, "total": total, "page": page, "per_page": per_page}


@blp.route("/sale-receipts/<int:receipt_id>")
class SaleReceipt(MethodView):
    @requires(*RECEIPT_READERS)
    @blp.response(200, SaleReceiptOut)
    def get(self, receipt_id):
        """One receipt: `accepted` (waiting), `registered` with its sale, or `rejected` with errors by field."""
        return receipts.get_receipt(db(), actor(), receipt_id)
