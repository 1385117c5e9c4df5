"""Provider notices: the delivery log, and a provider's webhook endpoint."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from dispatch.api.schemas.common import ID_RANGE, PageOut, PageQuery, Strict, _text
from dispatch.models import AttemptOutcome, DeliveryStatus, NoticeChannel, NoticeType


class NoticeQuery(PageQuery):
    provider_id = fields.Integer(
        strict=False,
        validate=ID_RANGE,
        metadata={"description": "Headquarters only: a provider reads its own"},
    )
    work_order_id = fields.Integer(strict=False, validate=ID_RANGE)
    type = fields.String(validate=validate.OneOf([t.value for t in NoticeType]))


class NoticeAttemptOut(ma.Schema):
    number = fields.Integer()
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    outcome = fields.String(metadata={"enum": [o.value for o in AttemptOutcome]})
    http_status = fields.Integer(allow_none=True, metadata={"description": "What the endpoint answered"})
    error = fields.String(allow_none=True)
    next_retry_at = fields.DateTime(allow_none=True)


class NoticeDeliveryOut(ma.Schema):
    channel = fields.String(metadata={"enum": [c.value for c in NoticeChannel]})
    status = fields.String(metadata={"enum": [s.value for s in DeliveryStatus]})
    attempts = fields.List(fields.Nested(NoticeAttemptOut), attribute="attempt_log")
    next_attempt_at = fields.DateTime(allow_none=True)
    last_http_status = fields.Integer(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class NoticeOut(ma.Schema):
    id = fields.Integer()
    provider_id = fields.Integer()
    work_order_id = fields.Integer()
    booking_version = fields.Integer()
    type = fields.String(metadata={"enum": [t.value for t in NoticeType]})
    lead = fields.String(metadata={"description": '"now" for a change; the lead time of a visit reminder'})
    due_at = fields.DateTime()
    webhook_id = fields.String(metadata={"description": "The webhook-id header of its webhook (every retry)"})
    superseded_at = fields.DateTime(allow_none=True)
    superseded_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    deliveries = fields.List(fields.Nested(NoticeDeliveryOut))


class NoticePageOut(PageOut):
    items = fields.List(fields.Nested(NoticeOut))


class EndpointIn(Strict):
    url = _text(500, required=True, metadata={"example": "https://provider.example.com/dispatch/webhooks"})


class EndpointOut(ma.Schema):
    provider_code = fields.String(attribute="provider.code")
    url = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class EndpointSecretOut(EndpointOut):
    secret = fields.String(
        metadata={"description": "whsec_ and base64: shown this once; every delivery is signed with it"}
    )
