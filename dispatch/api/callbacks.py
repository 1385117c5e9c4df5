"""The callback team: the queue of callbacks due for a person, leases, and recorded answers."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate, validates_schema
from marshmallow import ValidationError as MaValidationError

from dispatch.api.context import actor, db
from dispatch.api.parsing import Blueprint
from dispatch.api.schemas import CallbackOut, Strict
from dispatch.api.security import IDEMPOTENCY_HEADER, requires, writes
from dispatch.audit import callbacks, scheduling
from dispatch.models import Rating, Role

blp = Blueprint(
    "callbacks", __name__, url_prefix="/api/v1", description="Verification callbacks (callback team)"
)

READERS = (Role.CALLBACK, Role.SUPERVISOR)

HAPPENED = (
    "confirmed",
    "nobody_came",
    "disputed",
    "rescheduled",
    "done",
    "not_done",
)


class QueueQuery(Strict):
    limit = fields.Integer(load_default=50, strict=False, validate=validate.Range(min=1, max=200))


class QueueCustomerOut(Schema):
    id = fields.Integer()
    name = fields.String()
    phone = fields.String()
    address = fields.String()
    city = fields.String(attribute="city.name")
    timezone = fields.String(attribute="city.timezone")


class QueueProviderOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    under_review = fields.Boolean()


class QueueItemOut(Schema):
    id = fields.Integer(attribute="callback.id")
    purpose = fields.String(attribute="callback.purpose")
    state = fields.String(attribute="callback.state")
    claim = fields.String(attribute="callback.claim", metadata={"description": "What the provider claimed"})
    claim_at = fields.DateTime(attribute="callback.claim_at", allow_none=True)
    claim_local = fields.Method(
        "_claim_local", metadata={"description": "The claimed visit, customer's time"}
    )
    visit_note = fields.Method("_visit_note")
    installer_id = fields.Integer(attribute="callback.installer_id", allow_none=True)
    work_order_id = fields.Integer(attribute="callback.work_order_id")
    work_order_state = fields.String(attribute="callback.work_order.state")
    kind = fields.String(attribute="callback.work_order.kind")
    due_at = fields.DateTime(attribute="callback.due_at")
    escalation_reason = fields.String(attribute="callback.escalation_reason", allow_none=True)
    automated_attempts = fields.Integer(attribute="callback.automated_attempts")
    human_attempts = fields.Integer(attribute="callback.human_attempts")
    lease_until = fields.DateTime(attribute="callback.lease_until", allow_none=True)
    mine = fields.Boolean(metadata={"description": "Leased by the caller"})
    score = fields.Integer(metadata={"description": "Claim risk + a bonus for high-contradiction providers"})
    callable_now = fields.Boolean(metadata={"description": "Inside calling hours at the customer's"})
    customer_local_time = fields.DateTime(attribute="local_time")
    customer = fields.Nested(QueueCustomerOut, attribute="callback.work_order.customer")
    provider = fields.Nested(QueueProviderOut, attribute="callback.provider", allow_none=True)
    provider_contradiction_percent = fields.Integer(allow_none=True)
    high_risk_provider = fields.Boolean()

    def _claim_local(self, item):
        cb = item.callback
        if cb.claim_at is None:
            return None
        return scheduling.local_time(cb.claim_at, cb.work_order.customer.city.timezone).isoformat()

    def _visit_note(self, item):
        visit = next((v for v in item.callback.work_order.visits if v.id == item.callback.visit_id), None)
        return visit.note if visit else None


class AnswerIn(Strict):
    reached = fields.Boolean(required=True, metadata={"description": "Whether the customer was reached"})
    happened = fields.String(
        load_default=None,
        validate=validate.OneOf(HAPPENED),
        metadata={
            "description": (
                "What the customer says happened. customer_not_home: confirmed | nobody_came | "
                "rescheduled; other reasons: confirmed | disputed | rescheduled; completed: done | "
                "not_done; status_check: done | not_done | rescheduled"
            )
        },
    )
    rating = fields.String(load_default=None, validate=validate.OneOf([r.value for r in Rating]))
    note = fields.String(load_default=None, validate=validate.Length(max=2000))
    not_reached_reason = fields.String(
        load_default=None,
        validate=validate.OneOf(callbacks.NOT_REACHED_REASONS),
        metadata={
            "description": (
                "Why the customer was not reached (reached false): no_answer, wrong_number, or "
                "call_later (with call_at). Without it, a call not reached counts as no_answer."
            )
        },
    )
    call_at = fields.DateTime(
        load_default=None,
        metadata={
            "description": (
                "With call_later: when the customer asked to be called, ISO 8601, inside calling "
                "hours. Without an offset it is read in the customer's city's time."
            )
        },
    )

    @validates_schema
    def _answer_when_reached(self, data, **_kw):
        if data.get("reached") and not data.get("happened"):
            raise MaValidationError("is required when the customer was reached", "happened")
        if not data.get("reached") and (data.get("happened") or data.get("rating")):
            raise MaValidationError("must be empty when the customer was not reached", "happened")
        if data.get("reached") and (data.get("not_reached_reason") or data.get("call_at")):
            field = "not_reached_reason" if data.get("not_reached_reason") else "call_at"
            raise MaValidationError("must be empty when the customer was reached", field)


@blp.route("/callbacks")
class Queue(MethodView):
    @requires(*READERS)
    @blp.arguments(QueueQuery, location="query")
    @blp.response(200, QueueItemOut(many=True))
    def get(self, query):
        """The callbacks due for a person, most important first, with the customer card and the claim.

        Disputed-risk claims (customer not home) and providers with a high contradiction rate
        come first; the caller's own leases head the list; an expired lease is offered again.
        """
        return callbacks.human_queue(db(), actor(), current_app.config, limit=query["limit"])


@blp.route("/callbacks/<int:callback_id>")
class CallbackDetail(MethodView):
    @requires(*READERS)
    @blp.response(200, CallbackOut)
    def get(self, callback_id):
        """One callback with all its attempts (channels, times, statuses, answers) and verdict."""
        return callbacks.get_callback(db(), callback_id)


@blp.route("/callbacks/<int:callback_id>/claim")
class Claim(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @requires(Role.CALLBACK)
    @writes
    @blp.response(200, CallbackOut)
    def post(self, callback_id):
        """Lease a callback so that no other agent calls the same customer; 409 if another holds it.

        The lease lasts CALLBACK_LEASE_MINUTES; claiming again renews it; an abandoned one expires.
        """
        return callbacks.claim(db(), actor(), callback_id, current_app.config)


@blp.route("/callbacks/<int:callback_id>/release")
class Release(MethodView):
    @requires(Role.CALLBACK)
    @writes
    @blp.response(200, CallbackOut)
    def post(self, callback_id):
        """Give a leased callback back to the queue (lease holder only, else 409)."""
        return callbacks.release(db(), actor(), callback_id)


@blp.route("/callbacks/<int:callback_id>/answer")
class Answer(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @requires(Role.CALLBACK)
    @writes
    @blp.arguments(AnswerIn)
    @blp.response(200, CallbackOut)
    def post(self, data, callback_id):
        """Record the call (lease holder only): the customer's answer and rating, or not reached.

        An answer reaches the verdict: a contradicted claim opens a complaint, reopens the order
        and puts the provider under review; a confirmed completion verifies the order. Not reached
        CALLBACK_MAX_HUMAN_ATTEMPTS times ends as unreachable, which never confirms a claim.
        Not reached with `not_reached_reason` (as the console's "not reached" form): a wrong
        number or a customer who asked to be called later (at `call_at`) puts it back on the
        ladder at that time.
        """
        if not data["reached"] and (data["not_reached_reason"] or data["call_at"]):
            return callbacks.not_reached(
                db(),
                actor(),
                callback_id,
                reason=data["not_reached_reason"] or callbacks.NO_ANSWER,
                call_at=data["call_at"],
                note=data["note"],
                settings=current_app.config,
            )
        return callbacks.answer_by_agent(
            db(),
            actor(),
            callback_id,
            reached=data["reached"],
            happened=data["happened"],
            rating=data["rating"],
            note=data["note"],
            settings=current_app.config,
        )
