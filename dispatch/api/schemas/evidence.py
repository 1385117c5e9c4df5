"""Verification evidence: callbacks, their attempts and what was heard, complaints."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from dispatch.api.schemas.sales import ProviderRefOut


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
