"""Sales: the report a shop posts, the sale registered, the receipt of a sale accepted at once."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from dispatch.api.schemas.common import PageOut, PageQuery, Strict, StrictBoolean, WindowIn, WindowOut, _text
from dispatch.models import ReceiptStatus
from dispatch.platform.languages import LANGUAGES


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
