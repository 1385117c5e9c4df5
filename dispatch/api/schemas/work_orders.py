"""Work orders: lists, the detail with its history and evidence, and each action's body."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from dispatch.api.schemas.common import ID_RANGE, DayOrDateTime, PageOut, PageQuery, Strict, WindowIn, _text
from dispatch.api.schemas.evidence import CallbackOut, ComplaintOut
from dispatch.api.schemas.sales import UnitOut, WorkOrderSummaryOut
from dispatch.models import NotCompletedReason, OrderKind, OrderState, Outcome
from dispatch.orders.repairs import FAULT_CATEGORIES


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
