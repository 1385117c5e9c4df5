"""Ledger entries: posted once, never changed; months, and the lock on a closed one.

Every entry is dated on the ledger's day (LEDGER_TIMEZONE) when it is posted, in an open month.
Posting takes the month's row FOR SHARE and closing it FOR UPDATE, so an entry is either in before
the month closes or refused after (and the database refuses an entry dated in a closed month
whatever the code does: migration 0008). `cause` is unique, so the same thing is never posted
twice, however often it is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.models import EntryKind, LedgerEntry, LedgerMonth, Party, Role, utcnow
from dispatch.platform import personal
from dispatch.platform.actors import Actor
from dispatch.platform.db import paginate
from dispatch.platform.errors import Conflict, Forbidden, Invalid, NotFound

HQ = (Role.SUPERVISOR,)


def ledger_day(now: datetime, settings: Mapping[str, Any]) -> date:
    """The ledger's day of `now` (in LEDGER_TIMEZONE, headquarters' time)."""
    return now.astimezone(ZoneInfo(str(settings["LEDGER_TIMEZONE"]))).date()


def month_of(day: date) -> str:
    """'YYYY-MM'."""
    return f"{day.year:04d}-{day.month:02d}"


def parse_month(month: str) -> date:
    """The first day of a 'YYYY-MM' month, or Invalid."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise Invalid.field("month", "must be YYYY-MM") from None
    if not 2000 <= first.year <= 2999:
        raise Invalid.field("month", "must be YYYY-MM") from None
    return first


def next_month(first: date) -> date:
    """The first day of the month after the one starting on `first`."""
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def _month_row(session: Session, month: str, *, for_update: bool) -> LedgerMonth:
    """The month's row, created if missing, locked FOR SHARE (posting) or FOR UPDATE (closing)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(LedgerMonth) if dialect == "postgresql" else sqlite.insert(LedgerMonth)
    session.execute(insert.values(month=month).on_conflict_do_nothing(index_elements=["month"]))
    query = select(LedgerMonth).where(LedgerMonth.month == month).execution_options(populate_existing=True)
    query = query.with_for_update() if for_update else query.with_for_update(read=True)
    return session.scalars(query).one()


def require_open(session: Session, day: date) -> None:
    """Refuse (409) anything dated `day` when its month is closed; holds the month open until commit."""
    row = _month_row(session, month_of(day), for_update=False)
    if row.closed_at is not None:
        raise Conflict(f"ledger month {row.month} is closed: nothing may be dated {day.isoformat()}")


def post(
    session: Session,
    actor: Actor,
    *,
    cause: str,
    kind: EntryKind,
    party: Party,
    provider_id: int,
    installer_id: int | None,
    amount_minor: int,
    currency: str,
    day: date,
    memo: str,
    callback_id: int | None = None,
    work_order_id: int | None = None,
    fine_id: int | None = None,
    appeal_id: int | None = None,
    reverses_id: int | None = None,
    audit: Mapping[str, Any] | None = None,
) -> LedgerEntry:
    """Append one entry (409 if its month is closed or its cause was posted already) and its audit
    event. `memo` is kept for good: generated from ids and enums, or a reference, never personal data."""
    require_open(session, day)
    entry = LedgerEntry(
        cause=cause,
        kind=kind.value,
        party=party.value,
        provider_id=provider_id,
        installer_id=installer_id,
        amount_minor=amount_minor,
        currency=currency,
        entry_date=day,
        callback_id=callback_id,
        work_order_id=work_order_id,
        fine_id=fine_id,
        appeal_id=appeal_id,
        reverses_id=reverses_id,
        memo=memo,
        posted_by_id=actor.user_id,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError:
        # The unique cause (or reverses_id): posted by a concurrent request that committed first.
        raise Conflict(f"ledger entry {cause} was posted already") from None
    trail.record(
        session,
        actor,
        "ledger_entry",
        entry.id,
        "posted",
        to_state=entry.kind,
        data={
            "cause": cause,
            "kind": entry.kind,
            "party": entry.party,
            "provider_id": provider_id,
            "installer_id": installer_id,
            "amount_minor": amount_minor,
            "currency": currency,
            "entry_date": day.isoformat(),
            "callback_id": callback_id,
            "work_order_id": work_order_id,
            "fine_id": fine_id,
            "appeal_id": appeal_id,
            "reverses_id": reverses_id,
            **(audit or {}),
        },
    )
    return entry


def reversal(
    session: Session,
    actor: Actor,
    original: LedgerEntry,
    *,
    day: date,
    memo: str,
    appeal_id: int | None = None,
    audit: Mapping[str, Any] | None = None,
) -> LedgerEntry:
    """The entry that cancels `original` exactly: the opposite amount, linked to it (once)."""
    if original.kind == EntryKind.REVERSAL:
        raise Conflict(f"ledger entry {original.id} is a reversal; post a new entry instead")
    return post(
        session,
        actor,
        cause=f"reversal:{original.id}",
        kind=EntryKind.REVERSAL,
        party=Party(original.party),
        provider_id=original.provider_id,
        installer_id=original.installer_id,
        amount_minor=-original.amount_minor,
        currency=original.currency,
        day=day,
        memo=memo,
        callback_id=original.callback_id,
        work_order_id=original.work_order_id,
        fine_id=original.fine_id,
        appeal_id=appeal_id,
        reverses_id=original.id,
        audit=audit,
    )


def reverse_entry(
    session: Session,
    actor: Actor,
    entry_id: int,
    reference: str,
    *,
    now: datetime | None = None,
    settings: Mapping[str, Any],
) -> LedgerEntry:
    """A supervisor's correction: post the linked reversal of one entry (409 if it was reversed
    already, or is itself a reversal). `reference` is kept on the entry for good: a ticket number,
    never personal data."""
    if actor.role not in HQ:
        raise Forbidden("only a supervisor may correct the ledger")
    original = get_entry(session, actor, entry_id)
    day = ledger_day(now or utcnow(), settings)
    return reversal(
        session,
        actor,
        original,
        day=day,
        memo=f"correction of entry {original.id}: {reference}",
        audit={"reference_digest": personal.text_digest(reference, settings)},
    )


def _visible(actor: Actor) -> Select[tuple[LedgerEntry]]:
    query = select(LedgerEntry)
    if actor.role == Role.PROVIDER:
        query = query.where(LedgerEntry.provider_id == actor.provider_id)
    return query


def get_entry(session: Session, actor: Actor, entry_id: int) -> LedgerEntry:
    """One entry the actor may see (a provider: its own and its installers'), or NotFound."""
    entry = session.scalars(_visible(actor).where(LedgerEntry.id == entry_id)).unique().first()
    if entry is None:
        raise NotFound(f"ledger entry {entry_id} not found")
    return entry


def reversed_by(session: Session, entry_id: int) -> LedgerEntry | None:
    """The entry that reverses this one, if any."""
    return session.scalars(select(LedgerEntry).where(LedgerEntry.reverses_id == entry_id)).unique().first()


def entry_detail(session: Session, actor: Actor, entry_id: int) -> LedgerEntry:
    """One entry the actor may see, with `reversed_by_id` (the entry reversing it, or None)."""
    entry = get_entry(session, actor, entry_id)
    found = reversed_by(session, entry.id)
    entry.reversed_by_id = found.id if found else None
    return entry


@dataclass(frozen=True)
class EntryFilter:
    provider_id: int | None = None
    installer_id: int | None = None
    kind: str | None = None
    month: str | None = None
    fine_id: int | None = None
    callback_id: int | None = None


def list_entries(
    session: Session, actor: Actor, flt: EntryFilter, *, page: int, per_page: int
) -> tuple[list[LedgerEntry], int]:
    """A page of the entries the actor may see, newest first."""
    query = _visible(actor)  # a provider: its own (and its installers') only, whatever it filters on
    if flt.provider_id is not None:
        query = query.where(LedgerEntry.provider_id == flt.provider_id)
    if flt.installer_id is not None:
        query = query.where(LedgerEntry.installer_id == flt.installer_id)
    if flt.kind:
        query = query.where(LedgerEntry.kind == flt.kind)
    if flt.fine_id is not None:
        query = query.where(LedgerEntry.fine_id == flt.fine_id)
    if flt.callback_id is not None:
        query = query.where(LedgerEntry.callback_id == flt.callback_id)
    if flt.month:
        first = parse_month(flt.month)
        query = query.where(LedgerEntry.entry_date >= first, LedgerEntry.entry_date < next_month(first))
    return paginate(session, query, (LedgerEntry.id.desc(),), page, per_page)


# --- months --------------------------------------------------------------------------------------


def close_month(
    session: Session,
    actor: Actor,
    month: str,
    note: str | None,
    *,
    now: datetime | None = None,
    settings: Mapping[str, Any],
) -> LedgerMonth:
    """A supervisor closes a month that has ended (in LEDGER_TIMEZONE): from then on nothing may be
    dated in it. Closing it again is 409."""
    if actor.role not in HQ:
        raise Forbidden("only a supervisor may close a ledger month")
    first = parse_month(month)
    today = ledger_day(now or utcnow(), settings)
    if today < next_month(first):
        raise Conflict(f"ledger month {month} has not ended yet (today is {today.isoformat()})")
    row = _month_row(session, month, for_update=True)
    if row.closed_at is not None:
        raise Conflict(f"ledger month {month} is closed already")
    row.closed_at = now or utcnow()
    row.closed_by_id = actor.user_id
    row.close_note = note
    session.flush()
    trail.record(
        session,
        actor,
        "ledger_month",
        row.id,
        "closed",
        from_state="open",
        to_state="closed",
        data={"month": month, "note_digest": personal.text_digest(note, settings)},
    )
    return row


def list_months(session: Session) -> list[LedgerMonth]:
    """Every month the ledger has a row for (one was posted in or closed), newest first."""
    return list(session.scalars(select(LedgerMonth).order_by(LedgerMonth.month.desc())))
