"""Complaints held at headquarters: supervisors see and handle all; a provider reads its own."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from marshmallow import fields, validate

from dispatch.api.context import actor, db
from dispatch.api.parsing import Blueprint
from dispatch.api.schemas import ID_RANGE, ComplaintOut, EventOut, PageOut, PageQuery, Strict
from dispatch.api.security import IDEMPOTENCY_HEADER, requires, writes
from dispatch.audit import complaints
from dispatch.models import ComplaintStatus, Role

blp = Blueprint("complaints", __name__, url_prefix="/api/v1", description="Complaints (held at headquarters)")

READERS = (Role.SUPERVISOR, Role.PROVIDER)


class ComplaintQuery(PageQuery):
    status = fields.String(validate=validate.OneOf([s.value for s in ComplaintStatus]))
    provider_id = fields.Integer(
        strict=False, validate=ID_RANGE, metadata={"description": "Headquarters' roles only"}
    )
    work_order_id = fields.Integer(strict=False, validate=ID_RANGE)


class ComplaintPageOut(PageOut):
    items = fields.List(fields.Nested(ComplaintOut))


class ComplaintDetailOut(ComplaintOut):
    history = fields.List(fields.Nested(EventOut))


class ComplaintStatusIn(Strict):
    status = fields.String(
        required=True,
        validate=validate.OneOf([ComplaintStatus.INVESTIGATING.value, ComplaintStatus.CLOSED.value]),
    )
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


@blp.route("/complaints")
class Complaints(MethodView):
    @requires(*READERS)
    @blp.arguments(ComplaintQuery, location="query")
    @blp.response(200, ComplaintPageOut)
    def get(self, query):
        """Complaints, newest first. A provider sees only its own, read-only."""
        page, per_page = query.pop("page"), query.pop("per_page")
        items, total = complaints.list_complaints(
            db(), actor(), complaints.ComplaintFilter(**query), page=page, per_page=per_page
        )
        return {"items": items, "total": total, "page": page, "per_page": per_page}


@blp.route("/complaints/<int:complaint_id>")
class Complaint(MethodView):
    # No PUT, PATCH or DELETE: a complaint is never edited or deleted through the API (405).
    @requires(*READERS)
    @blp.response(200, ComplaintDetailOut)
    def get(self, complaint_id):
        """One complaint with its history. Another provider's complaint is 404."""
        return complaints.complaint_detail(db(), actor(), complaint_id)


@blp.route("/complaints/<int:complaint_id>/status")
class ComplaintStatusView(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @requires(Role.SUPERVISOR)
    @writes
    @blp.arguments(ComplaintStatusIn)
    @blp.response(200, ComplaintOut)
    def post(self, data, complaint_id):
        """Move a complaint on (investigating, closed) with a note; a closed complaint stays closed (409)."""
        return complaints.set_status(
            db(), actor(), complaint_id, data["status"], data["note"], settings=current_app.config
        )
