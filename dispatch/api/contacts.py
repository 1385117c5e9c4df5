"""Messages to customers: a customer's contact history, and the requests their replies put in the
hotline's queue (listed, and marked done once)."""

from __future__ import annotations

from flask.views import MethodView

from dispatch import outreach
from dispatch.api.context import actor, db
from dispatch.api.parsing import Blueprint
from dispatch.api.schemas import ContactLineOut, ContactQuery, NoQuery, PersonRequestDoneIn, PersonRequestOut
from dispatch.api.security import IDEMPOTENCY_HEADER, requires, writes
from dispatch.models import Role

blp = Blueprint("contacts", __name__, url_prefix="/api/v1", description="Messages to customers")

HISTORY_READERS = (Role.AGENT, Role.SUPERVISOR, Role.CALLBACK)
HOTLINE = (Role.AGENT, Role.SUPERVISOR)


@blp.route("/customers/<int:customer_id>/contacts")
class Contacts(MethodView):
    @requires(*HISTORY_READERS)
    @blp.arguments(ContactQuery, location="query")
    @blp.response(200, ContactLineOut(many=True))
    def get(self, query, customer_id):
        """The customer's contact history, newest first: every message queued, sent, held, skipped,
        capped or superseded with its reason, replies, refusals and consents; times in UTC and on
        the customer's wall clock."""
        return outreach.contact_history(db(), customer_id, limit=query["limit"])


@blp.route("/hotline/requests")
class Requests(MethodView):
    @requires(*HOTLINE)
    @blp.arguments(NoQuery, location="query")
    @blp.response(200, PersonRequestOut(many=True))
    def get(self, _query):
        """What customers asked of a person (another time), and texts to check, oldest first."""
        return outreach.requests.open_requests(db())


@blp.route("/hotline/requests/<int:request_id>/done")
class RequestDone(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @requires(*HOTLINE)
    @writes
    @blp.arguments(PersonRequestDoneIn)
    @blp.response(200, PersonRequestOut)
    def post(self, data, request_id):
        """Mark a request done, with an optional note; a second time is 409."""
        return outreach.requests.mark_done(db(), actor(), request_id, data["note"])
