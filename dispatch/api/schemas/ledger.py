"""The bonus and fine ledger: entries, fines, appeals, months and statements."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from dispatch.api.schemas.common import ID_RANGE, NoQuery, PageOut, PageQuery, Strict
from dispatch.api.schemas.sales import ProviderRefOut
from dispatch.api.schemas.scorecards import InstallerRefOut
from dispatch.audit.ledger import minor_to_text
from dispatch.models import AppealStatus, EntryKind, FineStatus

MONTH = validate.Regexp(r"^\d{4}-\d{2}$", error="must be YYYY-MM")


def _amount(obj) -> str:
    return minor_to_text(obj.amount_minor)


class EntryQuery(PageQuery):
    provider_id = fields.Integer(strict=False, validate=ID_RANGE)
    installer_id = fields.Integer(strict=False, validate=ID_RANGE)
    kind = fields.String(validate=validate.OneOf([k.value for k in EntryKind]))
    month = fields.String(validate=MONTH, metadata={"description": "Entries dated in this month (YYYY-MM)"})
    fine_id = fields.Integer(strict=False, validate=ID_RANGE)
    callback_id = fields.Integer(strict=False, validate=ID_RANGE)


class FineQuery(PageQuery):
    status = fields.String(validate=validate.OneOf([s.value for s in FineStatus]))
    provider_id = fields.Integer(strict=False, validate=ID_RANGE)
    work_order_id = fields.Integer(strict=False, validate=ID_RANGE)


class AppealQuery(PageQuery):
    status = fields.String(validate=validate.OneOf([s.value for s in AppealStatus]))
    provider_id = fields.Integer(strict=False, validate=ID_RANGE)


class MonthQuery(NoQuery):
    pass


class FineDecisionIn(Strict):
    decision = fields.String(required=True, validate=validate.OneOf(["post", "void"]))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class AppealIn(Strict):
    statement = fields.String(
        required=True,
        validate=validate.Length(min=1, max=4000),
        metadata={"description": "The provider's case against the fine"},
    )


class AppealDecisionIn(Strict):
    decision = fields.String(required=True, validate=validate.OneOf(["uphold", "reject"]))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ReversalIn(Strict):
    reference = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={
            "description": "Why, as a reference (a ticket number): kept on the entry for good, so "
            "never personal data"
        },
    )


class MonthCloseIn(Strict):
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class EntryOut(ma.Schema):
    id = fields.Integer()
    cause = fields.String(metadata={"description": "What was posted, unique: bonus:callback:N, fine:N, reversal:N"})
    kind = fields.String(metadata={"description": "bonus | fine | reversal"})
    party = fields.String(metadata={"description": "provider | installer: who is paid or charged"})
    provider = fields.Nested(ProviderRefOut)
    installer = fields.Nested(InstallerRefOut, allow_none=True)
    amount_minor = fields.Integer(metadata={"description": "Signed, minor units: + paid to, - charged to the party"})
    amount = fields.Function(_amount, metadata={"description": "The same, as a decimal"})
    currency = fields.String()
    entry_date = fields.Date(metadata={"description": "The ledger day (LEDGER_TIMEZONE)"})
    callback_id = fields.Integer(allow_none=True, metadata={"description": "The verdict's callback"})
    work_order_id = fields.Integer(allow_none=True)
    fine_id = fields.Integer(allow_none=True)
    appeal_id = fields.Integer(allow_none=True)
    reverses_id = fields.Integer(allow_none=True, metadata={"description": "The entry this one reverses"})
    memo = fields.String()
    posted_by_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class EntryDetailOut(EntryOut):
    reversed_by_id = fields.Integer(allow_none=True, metadata={"description": "The entry reversing this one"})


class EntryPageOut(PageOut):
    items = fields.List(fields.Nested(EntryOut))


class AppealOut(ma.Schema):
    id = fields.Integer()
    fine_id = fields.Integer()
    provider = fields.Nested(ProviderRefOut, attribute="fine.provider")
    statement = fields.String()
    filed_at = fields.DateTime()
    filed_by_id = fields.Integer()
    status = fields.String(metadata={"description": "open | upheld | rejected"})
    decided_at = fields.DateTime(allow_none=True)
    decided_by_id = fields.Integer(allow_none=True)
    decision_reason = fields.String(allow_none=True)


class AppealPageOut(PageOut):
    items = fields.List(fields.Nested(AppealOut))


class FineOut(ma.Schema):
    id = fields.Integer()
    callback_id = fields.Integer(metadata={"description": "The contradicting verdict's callback"})
    work_order_id = fields.Integer()
    complaint_id = fields.Integer(allow_none=True)
    provider = fields.Nested(ProviderRefOut)
    amount_minor = fields.Integer(metadata={"description": "What posting it charges (minor units)"})
    amount = fields.Function(_amount)
    currency = fields.String()
    claim = fields.String(metadata={"description": "The claim the customer contradicted"})
    status = fields.String(metadata={"description": "proposed | posted | voided"})
    proposed_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    decided_by_id = fields.Integer(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    appeal_until = fields.DateTime(allow_none=True, metadata={"description": "A posted fine: appeal by then"})
    entries = fields.List(fields.Nested(EntryOut), metadata={"description": "The fine posted, its reversal"})
    appeal = fields.Nested(AppealOut, allow_none=True)


class FinePageOut(PageOut):
    items = fields.List(fields.Nested(FineOut))


class MonthOut(ma.Schema):
    month = fields.String()
    closed = fields.Function(lambda m: m.closed_at is not None)
    closed_at = fields.DateTime(allow_none=True)
    closed_by_id = fields.Integer(allow_none=True)
    close_note = fields.String(allow_none=True)


class TotalsOut(ma.Schema):
    currency = fields.String()
    entries = fields.Integer()
    bonus = fields.Integer(metadata={"description": "Sum of the bonus entries (minor units)"})
    fine = fields.Integer(metadata={"description": "Sum of the fine entries"})
    reversal = fields.Integer(metadata={"description": "Sum of the reversals"})
    net = fields.Integer(metadata={"description": "Sum of all the entries: paid (+) or charged (-)"})
    net_amount = fields.Function(lambda t: minor_to_text(t.net))


class StatementOut(ma.Schema):
    party = fields.String(metadata={"description": "provider | installer"})
    code = fields.String()
    name = fields.String()
    provider = fields.Nested(ProviderRefOut)
    month = fields.String()
    from_ = fields.Date(attribute="first", data_key="from")
    to = fields.Date(attribute="last")
    closed = fields.Boolean(metadata={"description": "The month is closed: final"})
    entries = fields.List(fields.Nested(EntryOut))
    totals = fields.List(fields.Nested(TotalsOut), metadata={"description": "Per currency"})
