"""Request and response schemas, written by hand and named by direction (In, Out, Query)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from dispatch.models import NotCompletedReason, OrderKind, OrderState, Outcome, ReceiptStatus, Seniority
from dispatch.platform.languages import LANGUAGES

FAULT_CATEGORIES = (
    "no_hot_water",
    "leak",
    "ignition",
    "error_code",
    "noise",
    "pressure",
    "electrical",
    "water_quality",
    "other",
)


# Ids are PostgreSQL integers: a larger number cannot name anything (and would be a 500 there).
ID_RANGE = validate.Range(min=1, max=2**31 - 1)


def _text(max_len: int, **kw) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_len), **kw)


class StrictBoolean(fields.Boolean):
    """Only JSON true or false: "yes", 1 or "false" are refused, not guessed at."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class Strict(ma.Schema):
    """Unknown fields are an error, not silently dropped; text may not carry NUL characters."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def _refuse_nul(self, data, **_kwargs):
        # PostgreSQL cannot store NUL in text: refuse it here, naming the field, instead of a 500.
        if isinstance(data, dict):
            bad = {
                key: ["must not contain NUL characters"]
                for key, value in data.items()
                if (isinstance(value, str) and "\x00" in value)
                or (isinstance(value, list) and any(isinstance(v, str) and "\x00" in v for v in value))
            }
            if bad:
                raise ma.ValidationError(bad)
        return data


# --- shared pieces ---------------------------------------------------------------------------


class WindowIn(Strict):
    start = fields.DateTime(
        required=True,
        metadata={"description": "ISO 8601. Without an offset it is read in the customer's city's time."},
    )
    end = fields.DateTime(required=True)


class WindowOut(ma.Schema):
    start = fields.DateTime(attribute="appointment_start")
    end = fields.DateTime(attribute="appointment_end")
    local_start = fields.Method("_local_start", metadata={"description": "In the city's time zone"})
    local_end = fields.Method("_local_end")
    timezone = fields.String(attribute="city.timezone")

    def _local(self, order, value):
        return value.astimezone(ZoneInfo(order.city.timezone)).isoformat() if value else None

    def _local_start(self, order):
        return self._local(order, order.appointment_start)

    def _local_end(self, order):
        return self._local(order, order.appointment_end)


class DayOrDateTime(fields.DateTime):
    """A date (YYYY-MM-DD, a whole day) or an ISO 8601 date-time."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value.strip()) == 10:
            return fields.Date()._deserialize(value.strip(), attr, data, **kwargs)
        return super()._deserialize(value, attr, data, **kwargs)


class PageOut(ma.Schema):
    """The paging fields of every list answer; each list adds its `items`."""

    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class NoQuery(Strict):
    """A list without filters: any query parameter is refused, so a misspelt one cannot go unseen."""


class PageQuery(Strict):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000), strict=False)
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200), strict=False)


# --- sales -----------------------------------------------------------------------------------


class CustomerIn(Strict):
    name = _text(160, required=True)
    phone = _text(40, required=True, metadata={"example": "+1 415 555 0100"})
    address = _text(300, required=True)
    city = _text(120, required=True)
    language = fields.String(
        validate=validate.OneOf(LANGUAGES),
        metadata={"description": "The customer's language when it is not their city's (en, zh-CN)"},
    )


class SaleItemIn(Strict):
    product_line = _text(40, metadata={"description": "Optional check: the model's product line code"})
    model = _text(60, required=True)
    serial_number = _text(80, load_default=None)
    delivery = StrictBoolean(load_default=False)
    installation = StrictBoolean(load_default=False)


class SaleIn(Strict):
    shop = _text(160, required=True)
    salesperson = _text(160, required=True)
    sold_at = fields.DateTime(required=True)
    customer = fields.Nested(CustomerIn, required=True)
    items = fields.List(fields.Nested(SaleItemIn), required=True, validate=validate.Length(min=1, max=20))
    appointment = fields.Nested(WindowIn, load_default=None)


class ProviderRefOut(ma.Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class WorkOrderSummaryOut(ma.Schema):
    id = fields.Integer()
    kind = fields.String()
    state = fields.String()
    unit_id = fields.Integer()
    provider = fields.Nested(ProviderRefOut, allow_none=True)
    appointment = fields.Method("_window")

    def _window(self, order):
        return WindowOut().dump(order) if order.appointment_start else None


class UnitOut(ma.Schema):
    id = fields.Integer()
    model = fields.String(attribute="product_model.code")
    product_line = fields.String(attribute="product_model.product_line.code")
    serial_number = fields.String(allow_none=True)
    address = fields.String()
    city = fields.String(attribute="city.name")
    purchased_at = fields.DateTime(allow_none=True)


class SaleOut(ma.Schema):
    id = fields.Integer(attribute="sale.id")
    channel = fields.String(attribute="sale.channel")
    customer_id = fields.Integer(attribute="sale.customer_id")
    customer_created = fields.Boolean()
    units = fields.List(fields.Nested(UnitOut))
    work_orders = fields.List(fields.Nested(WorkOrderSummaryOut))


class SaleReceiptOut(ma.Schema):
    id = fields.Integer(attribute="receipt.id")
    status = fields.String(
        attribute="receipt.status",
        metadata={"description": "accepted (waiting for the worker), registered or rejected"},
    )
    received_at = fields.DateTime(attribute="receipt.received_at")
    processed_at = fields.DateTime(attribute="receipt.processed_at", allow_none=True)
    sale_id = fields.Integer(attribute="receipt.sale_id", allow_none=True)
    errors = fields.Dict(
        attribute="receipt.errors",
        allow_none=True,
        metadata={
            "description": "Why a rejected sale could not be registered, by field (as a 422 names them)"
        },
    )
    sale = fields.Nested(
        SaleOut, allow_none=True, metadata={"description": "The registered sale (asked for one by one)"}
    )


class SaleReceiptPageOut(PageOut):
    items = fields.List(fields.Nested(SaleReceiptOut))


class SaleReceiptQuery(PageQuery):
    status = fields.String(validate=validate.OneOf([s.value for s in ReceiptStatus]))


# --- work orders -----------------------------------------------------------------------------


class EventOut(ma.Schema):
    seq = fields.Integer()
    at = fields.DateTime(attribute="occurred_at")
    actor = fields.String()
    action = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String(allow_none=True)
    data = fields.Dict()


class VisitOut(ma.Schema):
    id = fields.Integer()
    outcome = fields.String()
    reason = fields.String(allow_none=True)
    installer_id = fields.Integer()
    installer = fields.String(attribute="installer.name")
    visited_at = fields.DateTime()
    note = fields.String(allow_none=True)
    closed_at = fields.DateTime()


class CustomerBriefOut(ma.Schema):
    id = fields.Integer()
    name = fields.String(metadata={"description": "'(erased)' once the customer's data was erased"})
    phone = fields.String()
    address = fields.String()
    city = fields.String(attribute="city.name")
    language = fields.Function(
        lambda c: c.language or c.city.language,
        metadata={"description": "The language prompts and texts use: the customer's own, else the city's"},
    )
    erased_at = fields.DateTime(
        allow_none=True, metadata={"description": "When the customer's personal data was erased on request"}
    )


class WorkOrderOut(WorkOrderSummaryOut):
    city = fields.String(attribute="city.name")
    product_line = fields.String(attribute="product_line.code")
    customer = fields.Nested(CustomerBriefOut)
    unit = fields.Nested(UnitOut)
    sale_id = fields.Integer(allow_none=True)
    fault_category = fields.String(allow_none=True)
    fault_description = fields.String(allow_none=True)
    repeat_of_id = fields.Integer(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    visits = fields.List(fields.Nested(VisitOut))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class SalesWorkOrderOut(WorkOrderSummaryOut):
    """What shop staff get back about an order of their own sale: no customer, no visits."""

    sale_id = fields.Integer(allow_none=True)
    city = fields.String(attribute="city.name")
    product_line = fields.String(attribute="product_line.code")
    updated_at = fields.DateTime()


# --- verification evidence (issue 3: callbacks domain) --------------------------------------


class HeardOut(ma.Schema):
    question = fields.String(
        metadata={
            "description": "not_home | completed | status_check | other_reason | "
            "customer_rescheduled | rating"
        }
    )
    input = fields.String(metadata={"description": "dtmf | speech | sms"})
    text = fields.String(allow_none=True, metadata={"description": "The key, the transcript or the text"})
    confidence = fields.Float(
        allow_none=True, metadata={"description": "The recogniser's confidence (speech)"}
    )
    language = fields.String()
    reading = fields.String(
        metadata={
            "description": "How it was read: the intent (or unclear) and the cue that decided",
            "example": "deny: 'nobody came'",
        }
    )
    result = fields.String(allow_none=True, metadata={"description": "The answer it became; null: unclear"})
    rating = fields.String(allow_none=True)
    rating_reading = fields.String(allow_none=True)
    at = fields.String()


class AttemptOut(ma.Schema):
    id = fields.Integer()
    seq = fields.Integer()
    channel = fields.String(metadata={"description": "voice | sms | human"})
    status = fields.String()
    started_at = fields.DateTime()
    placed_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    answered_by = fields.String(allow_none=True, metadata={"description": "Answering-machine detection"})
    answer_happened = fields.String(allow_none=True)
    answer_rating = fields.String(allow_none=True)
    answer_text = fields.String(
        allow_none=True, metadata={"description": "Digits, SMS reply or agent's note"}
    )
    agent_user_id = fields.Integer(allow_none=True)
    status_history = fields.List(fields.Dict())
    language = fields.String(
        allow_none=True, metadata={"description": "The language the robot spoke: en | zh-CN"}
    )
    heard = fields.List(
        fields.Nested(HeardOut),
        metadata={"description": "Every answer the robot heard or read, and how it read it (evidence)"},
    )


class CallbackOut(ma.Schema):
    id = fields.Integer()
    work_order_id = fields.Integer()
    visit_id = fields.Integer(allow_none=True)
    purpose = fields.String(metadata={"description": "verify_visit | status_check"})
    claim = fields.String(
        metadata={"description": "What the provider claimed: completed, a reason, status_check"}
    )
    claim_at = fields.DateTime(allow_none=True)
    provider_id = fields.Integer(allow_none=True)
    state = fields.String()
    due_at = fields.DateTime()
    automated_attempts = fields.Integer()
    human_attempts = fields.Integer()
    next_channel = fields.String(allow_none=True)
    escalation_reason = fields.String(allow_none=True)
    lease_holder_id = fields.Integer(allow_none=True)
    lease_until = fields.DateTime(allow_none=True)
    verdict = fields.String(allow_none=True)
    rating = fields.String(allow_none=True)
    answer_happened = fields.String(allow_none=True)
    answer_note = fields.String(allow_none=True)
    answer_channel = fields.String(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    attempts = fields.List(fields.Nested(AttemptOut))


class ComplaintOut(ma.Schema):
    id = fields.Integer()
    work_order_id = fields.Integer()
    visit_id = fields.Integer(allow_none=True)
    callback_id = fields.Integer(allow_none=True)
    provider = fields.Nested(ProviderRefOut)
    kind = fields.String()
    status = fields.String(metadata={"description": "open | investigating | closed"})
    summary = fields.String()
    status_note = fields.String(allow_none=True)
    deadline_at = fields.DateTime()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class WorkOrderDetailOut(WorkOrderOut):
    history = fields.List(fields.Nested(EventOut))
    verification = fields.List(
        fields.Nested(CallbackOut),
        attribute="callbacks",
        metadata={"description": "Verification callbacks with every attempt, answer, verdict and rating"},
    )
    complaints = fields.List(fields.Nested(ComplaintOut))


class WorkOrderPageOut(PageOut):
    items = fields.List(fields.Nested(WorkOrderOut))


class WorkOrderQuery(PageQuery):
    state = fields.String(validate=validate.OneOf([s.value for s in OrderState]))
    kind = fields.String(validate=validate.OneOf([k.value for k in OrderKind]))
    city = fields.String(validate=validate.Length(min=1, max=120))
    provider_id = fields.Integer(
        strict=False, validate=ID_RANGE, metadata={"description": "Headquarters' roles only"}
    )
    customer_id = fields.Integer(strict=False, validate=ID_RANGE)
    date_from = DayOrDateTime(
        metadata={
            "description": "Appointment starts on or after this day or time (a day, or a time without "
            "an offset, is read in each order's city)"
        }
    )
    date_to = DayOrDateTime(
        metadata={
            "description": "Appointment starts before this time, or on or before this day "
            "(a day is included whole)"
        }
    )


class CloseIn(Strict):
    outcome = fields.String(required=True, validate=validate.OneOf([o.value for o in Outcome]))
    reason = fields.String(load_default=None, validate=validate.OneOf([r.value for r in NotCompletedReason]))
    installer_id = fields.Integer(required=True, strict=True, validate=ID_RANGE)
    visited_at = fields.AwareDateTime(required=True)
    note = fields.String(load_default=None, validate=validate.Length(max=2000))

    @validates_schema
    def _reason_matches_outcome(self, data, **_kw):
        if data.get("outcome") == Outcome.NOT_COMPLETED and not data.get("reason"):
            raise ma.ValidationError("is required when the outcome is not_completed", "reason")
        if data.get("outcome") == Outcome.COMPLETED and data.get("reason"):
            raise ma.ValidationError("must be empty when the outcome is completed", "reason")


class CancelIn(Strict):
    reason = _text(500, required=True, metadata={"example": "customer returned the unit to the shop"})


class AssignIn(Strict):
    provider = _text(
        40,
        load_default=None,
        metadata={"description": "Provider code; without it, the order is routed by coverage again"},
    )


class BookIn(Strict):
    window = fields.Nested(WindowIn, required=True)


class RepairIn(Strict):
    serial_number = _text(80)
    unit_id = fields.Integer(strict=True, validate=ID_RANGE)
    fault_category = fields.String(required=True, validate=validate.OneOf(FAULT_CATEGORIES))
    fault_description = _text(2000, required=True)
    appointment = fields.Nested(WindowIn, load_default=None)

    @validates_schema
    def _one_unit(self, data, **_kw):
        if bool(data.get("serial_number")) == bool(data.get("unit_id")):
            raise ma.ValidationError("give exactly one of serial_number, unit_id", "serial_number")


# --- customers -------------------------------------------------------------------------------


class CustomerQuery(Strict):
    phone = fields.String(validate=validate.Length(min=3, max=40))
    name = fields.String(validate=validate.Length(min=2, max=160))
    address = fields.String(validate=validate.Length(min=3, max=300))

    @validates_schema
    def _exactly_one(self, data, **_kw):
        if len([k for k in ("phone", "name", "address") if data.get(k)]) != 1:
            message = "give exactly one of phone, name, address"
            raise ma.ValidationError({k: [message] for k in ("phone", "name", "address")})


class OrderInCardOut(WorkOrderSummaryOut):
    fault_category = fields.String(allow_none=True)
    fault_description = fields.String(allow_none=True)
    repeat_of_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    visits = fields.List(fields.Nested(VisitOut))
    history = fields.List(fields.Nested(EventOut))


class CustomerUnitOut(UnitOut):
    work_orders = fields.List(fields.Nested(OrderInCardOut))


class CustomerListOut(CustomerBriefOut):
    created_at = fields.DateTime()


class UnitQuery(Strict):
    serial_number = _text(80, required=True)


class UnitWithOwnerOut(UnitOut):
    customer = fields.Nested(CustomerBriefOut)
    work_orders = fields.List(fields.Nested(WorkOrderSummaryOut))


class CustomerCardOut(CustomerListOut):
    units = fields.List(fields.Nested(CustomerUnitOut))


# --- reference data --------------------------------------------------------------------------


class CityIn(Strict):
    name = _text(120, required=True)
    timezone = _text(64, required=True, metadata={"example": "America/Chicago"})
    region = fields.String(load_default="US", validate=validate.Length(equal=2))
    language = fields.String(
        load_default="en",
        validate=validate.OneOf(LANGUAGES),
        metadata={"description": "What the robot speaks with customers there: en or zh-CN"},
    )


class CityOut(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    timezone = fields.String()
    region = fields.String()
    language = fields.String()


class ProductLineIn(Strict):
    code = _text(40, required=True)
    name = _text(120, required=True)


class ProductLineOut(ma.Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class ProductModelIn(Strict):
    code = _text(60, required=True)
    name = _text(160, required=True)
    product_line = _text(40, required=True)


class ProductModelOut(ma.Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    product_line = fields.String(attribute="product_line.code")


class ProviderIn(Strict):
    code = _text(40, required=True)
    name = _text(160, required=True)
    phone = fields.String(load_default=None, validate=validate.Length(max=40))
    active = StrictBoolean(load_default=True)


class ProviderOut(ma.Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    phone = fields.String(allow_none=True)
    active = fields.Boolean()
    under_review = fields.Boolean()
    review_reason = fields.String(allow_none=True)


class CoverageIn(Strict):
    provider = _text(40, required=True, metadata={"description": "Provider code"})
    city = _text(120, required=True)
    product_line = _text(40, required=True)
    priority = fields.Integer(load_default=100, strict=True, validate=validate.Range(min=0, max=10000))


class CoverageOut(ma.Schema):
    id = fields.Integer()
    provider = fields.String(attribute="provider.code")
    city = fields.String(attribute="city.name")
    product_line = fields.String(attribute="product_line.code")
    priority = fields.Integer()


class InstallerIn(Strict):
    code = _text(40, required=True)
    name = _text(160, required=True)
    provider = _text(40, required=True, metadata={"description": "Provider code"})
    seniority = fields.String(
        load_default=Seniority.REGULAR.value, validate=validate.OneOf([s.value for s in Seniority])
    )
    active = StrictBoolean(load_default=True)


class InstallerOut(ma.Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    provider_id = fields.Integer()
    seniority = fields.String()
    active = fields.Boolean()


# --- users -----------------------------------------------------------------------------------


class UserOut(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    role = fields.String()
    provider_id = fields.Integer(allow_none=True)
    active = fields.Boolean(metadata={"description": "An inactive user's tokens all get 401"})
    created_at = fields.DateTime()


class UserActiveIn(Strict):
    active = StrictBoolean(
        required=True,
        metadata={"description": "false stops every token of the user at once; true restores them"},
    )
