"""Units cared for: maintenance plans, units past due, seasonal campaigns and their previews."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from dispatch.api.schemas.common import PageOut, Strict, StrictBoolean, _text
from dispatch.models import CampaignState
from dispatch.platform.languages import LANGUAGES


class _PerLanguage(fields.Dict):
    def __init__(self, max_len: int, **kw):
        super().__init__(
            keys=fields.String(validate=validate.OneOf(LANGUAGES)),
            values=fields.String(validate=validate.Length(min=1, max=max_len)),
            **kw,
        )


class MaintenancePlanIn(Strict):
    code = _text(40, required=True, metadata={"example": "gas_wh-descale"})
    name = _text(120, required=True, metadata={"example": "descaling"})
    names = _PerLanguage(
        120, load_default=dict, metadata={"description": "What the customer reads it as, per language"}
    )
    product_line = _text(40, required=True, metadata={"example": "gas_wh"})
    interval_months = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=240))
    window_days = fields.Integer(
        load_default=30,
        strict=True,
        validate=validate.Range(min=0, max=365),
        metadata={"description": "Days after the due date before the unit is past due"},
    )
    invite_days = fields.Integer(
        load_default=21,
        strict=True,
        validate=validate.Range(min=0, max=365),
        metadata={"description": "How many days before the due date the owner is invited"},
    )
    active = StrictBoolean(load_default=True)


class MaintenancePlanOut(ma.Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    names = fields.Dict(keys=fields.String(), values=fields.String())
    product_line = fields.String(attribute="product_line.code")
    interval_months = fields.Integer()
    window_days = fields.Integer()
    invite_days = fields.Integer()
    active = fields.Boolean()


class PastDueOut(ma.Schema):
    unit_id = fields.Integer()
    customer_id = fields.Integer()
    customer_name = fields.String()
    phone = fields.String()
    city = fields.String()
    model = fields.String()
    plan = fields.String(attribute="plan_code")
    plan_name = fields.String()
    due_on = fields.Date(metadata={"description": "In the city's local time"})
    days_overdue = fields.Integer()
    invited = fields.Boolean(metadata={"description": "Whether an invitation was sent for this cycle"})


class PastDuePageOut(PageOut):
    items = fields.List(fields.Nested(PastDueOut))


class CampaignIn(Strict):
    code = _text(40, required=True, metadata={"example": "frost-2026"})
    name = _text(120, required=True, metadata={"example": "Frost protection, winter 2026"})
    product_lines = fields.List(
        _text(40), required=True, validate=validate.Length(min=1, max=50), metadata={"example": ["gas_wh"]}
    )
    cities = fields.List(
        _text(120),
        load_default=list,
        validate=validate.Length(max=500),
        metadata={"description": "The cold list; empty: every city"},
    )
    texts = _PerLanguage(
        480, required=True, metadata={"description": "The text per language; every language is required"}
    )
    batch_size = fields.Integer(load_default=500, strict=True, validate=validate.Range(min=1, max=10000))


class CampaignOut(ma.Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    product_lines = fields.List(fields.String())
    cities = fields.List(fields.String())
    texts = fields.Dict(keys=fields.String(), values=fields.String())
    state = fields.String(validate=validate.OneOf([s.value for s in CampaignState]))
    batch_size = fields.Integer()
    batches = fields.Integer()
    contacted = fields.Integer()
    started_at = fields.DateTime()
    finished_at = fields.DateTime()


class PreviewOut(ma.Schema):
    campaign_id = fields.Integer()
    would_contact = fields.Integer()
    left_out = fields.Integer()
    counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={
            "description": "Customers owning a unit, by what the campaign would do: contact, cap_reached, "
            "already_contacted, opted_out, no_matching_unit, erased"
        },
    )
    samples = fields.Dict(
        keys=fields.String(), values=fields.List(fields.Integer()), metadata={"description": "Customer ids"}
    )
