"""Monthly statements: a provider's or an installer's entries of one ledger month, and their
totals, which are the sums of those entries (computed from the very lines listed)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit.ledger.entries import next_month, parse_month
from dispatch.models import EntryKind, Installer, LedgerEntry, LedgerMonth, Party, Provider, Role
from dispatch.platform.actors import Actor
from dispatch.platform.errors import NotFound


@dataclass
class Totals:
    """One currency's sums: by kind, and the net (what the party is paid; negative: charged)."""

    currency: str
    bonus: int = 0
    fine: int = 0
    reversal: int = 0
    entries: int = 0

    @property
    def net(self) -> int:
        return self.bonus + self.fine + self.reversal


@dataclass
class Statement:
    party: Party
    code: str
    name: str
    provider: Provider
    month: str
    first: date
    last: date
    closed: bool
    entries: list[LedgerEntry]
    totals: list[Totals] = field(default_factory=list)


def statement(session: Session, actor: Actor, party: str, code: str, month: str) -> Statement:
    """A provider's (its fines and their reversals) or an installer's (its bonuses and their
    reversals) statement for a month; a provider may read its own and its installers' only."""
    kind = Party(party)
    first = parse_month(month)
    if "\x00" in code:  # from a path: PostgreSQL cannot compare it, and no code holds one
        raise NotFound(f"{kind.value} {code!r} not found")
    end = next_month(first)
    query = select(LedgerEntry).where(LedgerEntry.entry_date >= first, LedgerEntry.entry_date < end)
    if kind == Party.PROVIDER:
        provider = session.scalars(select(Provider).where(Provider.code == code)).first()
        if provider is None or (actor.role == Role.PROVIDER and provider.id != actor.provider_id):
            raise NotFound(f"provider {code} not found")
        name = provider.name
        query = query.where(LedgerEntry.party == Party.PROVIDER, LedgerEntry.provider_id == provider.id)
    else:
        installer = session.scalars(select(Installer).where(Installer.code == code)).first()
        if installer is None or (actor.role == Role.PROVIDER and installer.provider_id != actor.provider_id):
            raise NotFound(f"installer {code} not found")
        found = session.get(Provider, installer.provider_id)
        assert found is not None
        provider, name = found, installer.name
        query = query.where(LedgerEntry.party == Party.INSTALLER, LedgerEntry.installer_id == installer.id)
    entries = list(session.scalars(query.order_by(LedgerEntry.entry_date, LedgerEntry.id)).unique())
    sums: dict[str, Totals] = {}
    for entry in entries:
        totals = sums.setdefault(entry.currency, Totals(entry.currency))
        setattr(totals, entry.kind, getattr(totals, entry.kind) + entry.amount_minor)
        totals.entries += 1
    closed = session.scalar(select(LedgerMonth.closed_at).where(LedgerMonth.month == month)) is not None
    return Statement(
        kind,
        code,
        name,
        provider,
        month,
        first,
        end - timedelta(days=1),
        closed,
        entries,
        [sums[c] for c in sorted(sums)],
    )


def minor_to_text(amount: int) -> str:
    """Minor units as a decimal with two places (200000 -> '2000.00'; -1050 -> '-10.50')."""
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole}.{cents:02d}"


CSV_COLUMNS = (
    "entry_id",
    "entry_date",
    "kind",
    "amount_minor",
    "amount",
    "currency",
    "work_order_id",
    "callback_id",
    "fine_id",
    "appeal_id",
    "reverses_id",
    "memo",
)


def statement_csv(st: Statement) -> str:
    """The statement as CSV: a header, one line per entry, then one total line per currency."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("party", "code", "month", *CSV_COLUMNS))
    head = (st.party.value, st.code, st.month)
    for e in st.entries:
        writer.writerow(
            (
                *head,
                e.id,
                e.entry_date.isoformat(),
                e.kind,
                e.amount_minor,
                minor_to_text(e.amount_minor),
                e.currency,
                e.work_order_id or "",
                e.callback_id or "",
                e.fine_id or "",
                e.appeal_id or "",
                e.reverses_id or "",
                e.memo,
            )
        )
    for t in st.totals:
        by_kind = ", ".join(f"{k.value} {minor_to_text(getattr(t, k.value))}" for k in EntryKind)
        writer.writerow(
            (
                *head,
                "total",
                "",
                "net",
                t.net,
                minor_to_text(t.net),
                t.currency,
                "",
                "",
                "",
                "",
                "",
                f"{t.entries} entries: {by_kind}",
            )
        )
    return out.getvalue()
