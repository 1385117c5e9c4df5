"""Reference data: cities, product lines and models, providers, coverage, installers."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from dispatch.api.schemas.common import Strict, StrictBoolean, _text
from dispatch.models import Seniority
from dispatch.platform.languages import LANGUAGES


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
