"""Customers: the hotline's search, the customer card, units by serial number."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from dispatch.api.schemas.common import Strict, _text
from dispatch.api.schemas.sales import UnitOut, WorkOrderSummaryOut
from dispatch.api.schemas.work_orders import CustomerBriefOut, EventOut, VisitOut


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
