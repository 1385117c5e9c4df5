"""The bonus and fine ledger: supervisors see and decide everything; a provider reads its own
(and its installers') entries, fines and statements, and appeals its fines."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from dispatch.api.context import actor, db
from dispatch.api.parsing import Blueprint
from dispatch.api.schemas.ledger import (
    AppealDecisionIn,
    AppealIn,
    AppealOut,
    AppealPageOut,
    AppealQuery,
    EntryDetailOut,
    EntryOut,
    EntryPageOut,
    EntryQuery,
    FineDecisionIn,
    FineOut,
    FinePageOut,
    FineQuery,
    MonthCloseIn,
    MonthOut,
    MonthQuery,
    ReversalIn,
    StatementOut,
)
from dispatch.api.scorecards import CSV, csv_response
from dispatch.api.security import IDEMPOTENCY_HEADER, requires, writes
from dispatch.audit import ledger
from dispatch.models import Role

blp = Blueprint(
    "ledger",
    __name__,
    url_prefix="/api/v1",
    description="Bonuses and fines (entries never change; a closed month takes no entry)",
)

READERS = (Role.SUPERVISOR, Role.PROVIDER)


@blp.route("/ledger/entries")
class Entries(MethodView):
    @requires(*READERS)
    @blp.arguments(EntryQuery, location="query")
    @blp.response(200, EntryPageOut)
    def get(self, query):
        """Ledger entries, newest first. A provider sees its own and its installers'."""
        page, per_page = query.pop("page"), query.pop("per_page")
        items, total = ledger.list_entries(
            db(), actor(), ledger.EntryFilter(**query), page=page, per_page=per_page
        )
        return {"items": items, "total": total, "page": page, "per_page": per_page}


@blp.route("/ledger/entries/<int:entry_id>")
class Entry(MethodView):
    # No PUT, PATCH or DELETE: an entry is never changed (405); a correction is a reversal.
    @requires(*READERS)
    @blp.response(200, EntryDetailOut)
    def get(self, entry_id):
        """One entry, with the entry reversing it if any. Another provider's is 404."""
        return ledger.entry_detail(db(), actor(), entry_id)


@blp.route("/ledger/entries/<int:entry_id>/reversal")
class Reversal(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @requires(Role.SUPERVISOR)
    @writes
    @blp.arguments(ReversalIn)
    @blp.response(201, EntryOut)
    def post(self, data, entry_id):
        """Correct the ledger: post the linked reversal of one entry, dated today (409 if it was
        reversed already or is itself a reversal, or today's month is closed)."""
        return ledger.reverse_entry(db(), actor(), entry_id, data["reference"], settings=current_app.config)


@blp.route("/ledger/fines")
class Fines(MethodView):
    @requires(*READERS)
    @blp.arguments(FineQuery, location="query")
    @blp.response(200, FinePageOut)
    def get(self, query):
        """Fines proposed by contradicted claims, newest first (`status=proposed`: to decide).
        A provider sees its own."""
        page, per_page = query.pop("page"), query.pop("per_page")
        items, total = ledger.list_fines(
            db(), actor(), ledger.FineFilter(**query), page=page, per_page=per_page, settings=current_app.config
        )
        return {"items": items, "total": total, "page": page, "per_page": per_page}


@blp.route("/ledger/fines/<int:fine_id>")
class FineDetail(MethodView):
    @requires(*READERS)
    @blp.response(200, FineOut)
    def get(self, fine_id):
        """One fine with its entries and appeal. Another provider's is 404."""
        return ledger.get_fine(db(), actor(), fine_id, settings=current_app.config)


@blp.route("/ledger/fines/<int:fine_id>/decision")
class FineDecision(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @requires(Role.SUPERVISOR)
    @writes
    @blp.arguments(FineDecisionIn)
    @blp.response(200, FineOut)
    def post(self, data, fine_id):
        """Post (a fine entry) or void a proposed fine, with a reason. Taken once: any later
        decision, even one sent at the same moment, is 409 and changes nothing."""
        return ledger.decide_fine(
            db(), actor(), fine_id, data["decision"], data["reason"], settings=current_app.config
        )


@blp.route("/ledger/fines/<int:fine_id>/appeal")
class FileAppeal(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @requires(Role.PROVIDER)
    @writes
    @blp.arguments(AppealIn)
    @blp.response(201, AppealOut)
    def post(self, data, fine_id):
        """Appeal a posted fine of one's own, with a statement, within LEDGER_APPEAL_DAYS of its
        posting; once (409 after that, or for a fine not posted)."""
        return ledger.file_appeal(db(), actor(), fine_id, data["statement"], settings=current_app.config)


@blp.route("/ledger/appeals")
class Appeals(MethodView):
    @requires(*READERS)
    @blp.arguments(AppealQuery, location="query")
    @blp.response(200, AppealPageOut)
    def get(self, query):
        """Appeals, newest first (`status=open`: to decide). A provider sees its own."""
        page, per_page = query.pop("page"), query.pop("per_page")
        items, total = ledger.list_appeals(
            db(), actor(), status=query.get("status"), provider_id=query.get("provider_id"), page=page, per_page=per_page
        )
        return {"items": items, "total": total, "page": page, "per_page": per_page}


@blp.route("/ledger/appeals/<int:appeal_id>")
class AppealDetail(MethodView):
    @requires(*READERS)
    @blp.response(200, AppealOut)
    def get(self, appeal_id):
        """One appeal. Another provider's is 404."""
        return ledger.get_appeal(db(), actor(), appeal_id)


@blp.route("/ledger/appeals/<int:appeal_id>/decision")
class AppealDecision(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @requires(Role.SUPERVISOR)
    @writes
    @blp.arguments(AppealDecisionIn)
    @blp.response(200, AppealOut)
    def post(self, data, appeal_id):
        """Uphold an open appeal (a reversal entry linked to the fine's cancels it) or reject it,
        with a reason. Taken once: 409 after that."""
        return ledger.decide_appeal(
            db(), actor(), appeal_id, data["decision"], data["reason"], settings=current_app.config
        )


@blp.route("/ledger/months")
class Months(MethodView):
    @requires(Role.SUPERVISOR)
    @blp.arguments(MonthQuery, location="query")
    @blp.response(200, MonthOut(many=True))
    def get(self, _query):
        """Ledger months with entries or closed, newest first."""
        return ledger.list_months(db())


@blp.route("/ledger/months/<string:month>/close")
class CloseMonth(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @requires(Role.SUPERVISOR)
    @writes
    @blp.arguments(MonthCloseIn)
    @blp.response(200, MonthOut)
    def post(self, data, month):
        """Close a month (YYYY-MM) that has ended in LEDGER_TIMEZONE: nothing may be dated in it
        afterwards, and it stays closed (409 when closed already or not over)."""
        return ledger.close_month(db(), actor(), month, data["note"], settings=current_app.config)


def _statement(party: str, code: str, month: str) -> ledger.Statement:
    return ledger.statement(db(), actor(), party, code, month)


@blp.route("/ledger/statements/providers/<string:provider_code>/<string:month>")
class ProviderStatement(MethodView):
    @requires(*READERS)
    @blp.response(200, StatementOut)
    def get(self, provider_code, month):
        """A provider's statement of a month (YYYY-MM): its fines and their reversals, and totals
        that are the sums of those entries. A provider reads its own; another's is 404."""
        return _statement("provider", provider_code, month)


@blp.route("/ledger/statements/providers/<string:provider_code>/<string:month>.csv")
class ProviderStatementCsv(MethodView):
    @requires(*READERS)
    @blp.response(200, CSV, content_type="text/csv")
    def get(self, provider_code, month):
        """The same statement as CSV: one line per entry, then one total line per currency."""
        found = _statement("provider", provider_code, month)
        return csv_response(ledger.statement_csv(found), f"statement-{provider_code}-{month}.csv")


@blp.route("/ledger/statements/installers/<string:installer_code>/<string:month>")
class InstallerStatement(MethodView):
    @requires(*READERS)
    @blp.response(200, StatementOut)
    def get(self, installer_code, month):
        """An installer's statement of a month (YYYY-MM): its bonuses and their reversals, and
        totals that are their sums. A provider reads its own installers'; others are 404."""
        return _statement("installer", installer_code, month)


@blp.route("/ledger/statements/installers/<string:installer_code>/<string:month>.csv")
class InstallerStatementCsv(MethodView):
    @requires(*READERS)
    @blp.response(200, CSV, content_type="text/csv")
    def get(self, installer_code, month):
        """The same statement as CSV."""
        found = _statement("installer", installer_code, month)
        return csv_response(ledger.statement_csv(found), f"statement-{installer_code}-{month}.csv")
