"""Messages to customers: the customer's contact history, the hotline's requests."""

from __future__ import annotations

from marshmallow import fields, validate

from dispatch.api.schemas.common import Strict

KINDS = (
    "queued, sent, held, skipped, capped, superseded, uncertain, failed (a message); "
    "reply (the customer's words); opted_out, opted_in (a refusal or consent, any channel)"
)


class ContactLineOut(Strict):
    id = fields.Integer()
    at = fields.DateTime(metadata={"description": "UTC"})
    local_at = fields.DateTime(metadata={"description": "The same moment on the customer's wall clock"})
    kind = fields.String(metadata={"description": KINDS})
    channel = fields.String()
    reason = fields.String(
        allow_none=True, metadata={"description": "Why (held until when, opted out when, ...)"}
    )
    message_id = fields.Integer(allow_none=True)
    purpose = fields.String(
        allow_none=True, metadata={"description": "booking_confirmation, booking_reminder, ..."}
    )
    work_order_id = fields.Integer(allow_none=True)
    status = fields.String(allow_none=True, metadata={"description": "The message's status now"})
    body = fields.String(allow_none=True, metadata={"description": "The text as sent (on sent lines)"})


class ContactQuery(Strict):
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class PersonRequestOut(Strict):
    id = fields.Integer()
    kind = fields.String(
        metadata={"description": "reschedule (the customer replied CHANGE / 改期), check_text (a text that "
                  "may or may not have gone out)"}
    )  # fmt: skip
    words = fields.String(allow_none=True, metadata={"description": "The customer's reply"})
    created_at = fields.DateTime()
    customer_id = fields.Integer()
    customer_name = fields.String()
    phone = fields.String()
    work_order_id = fields.Integer(allow_none=True)
    appointment_start = fields.DateTime(allow_none=True, metadata={"description": "Booked now, local time"})
    appointment_end = fields.DateTime(allow_none=True)
    done_at = fields.DateTime(allow_none=True)


class PersonRequestDoneIn(Strict):
    note = fields.String(load_default=None, validate=validate.Length(max=300))
