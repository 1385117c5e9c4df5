"""The bonus and fine ledger: what verdicts earn installers and cost providers.

- entries.py     entries posted once and never changed, linked reversals, months and their lock
- fines.py       bonuses posted and fines proposed by verdicts; decisions and appeals, each once
- statements.py  monthly statements per provider and per installer, JSON and CSV

Money is integer minor units with its currency (LEDGER_CURRENCY). The guarantees and the tests
that prove them: docs/guarantees/ledger.md.
"""

from __future__ import annotations

from dispatch.audit.ledger.entries import (
    EntryFilter,
    close_month,
    entry_detail,
    get_entry,
    ledger_day,
    list_entries,
    list_months,
    month_of,
    next_month,
    parse_month,
    post,
    require_open,
    reversal,
    reverse_entry,
    reversed_by,
)
from dispatch.audit.ledger.fines import (
    AppealDecision,
    FineDecision,
    FineFilter,
    appeal_deadline,
    bonus_amount,
    decide_appeal,
    decide_fine,
    file_appeal,
    get_appeal,
    get_fine,
    list_appeals,
    list_fines,
    on_verdict,
    post_bonus,
    propose_fine,
)
from dispatch.audit.ledger.statements import (
    CSV_COLUMNS,
    Statement,
    Totals,
    minor_to_text,
    statement,
    statement_csv,
)

__all__ = [
    "CSV_COLUMNS",
    "AppealDecision",
    "EntryFilter",
    "FineDecision",
    "FineFilter",
    "Statement",
    "Totals",
    "appeal_deadline",
    "bonus_amount",
    "close_month",
    "decide_appeal",
    "decide_fine",
    "entry_detail",
    "file_appeal",
    "get_appeal",
    "get_entry",
    "get_fine",
    "ledger_day",
    "list_appeals",
    "list_entries",
    "list_fines",
    "list_months",
    "minor_to_text",
    "month_of",
    "next_month",
    "on_verdict",
    "parse_month",
    "post",
    "post_bonus",
    "propose_fine",
    "require_open",
    "reverse_entry",
    "reversal",
    "reversed_by",
    "statement",
    "statement_csv",
]
