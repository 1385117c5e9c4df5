"""What verdicts cost and earn: bonuses posted, fines proposed, decided once, appealed once.

- A verified very-satisfied job (the customer confirmed a completed visit and rated it very
  satisfied) posts the installer's bonus at once: LEDGER_BONUS_MINOR, or the product line's
  amount from LEDGER_BONUS_BY_PRODUCT_LINE.
- A contradicted claim proposes a fine to the provider (LEDGER_FINE_MINOR). A supervisor posts it
  (a fine entry) or voids it (no entry), with a reason, exactly once: the fine's row is locked and
  its status checked, so a decision submitted twice, even at the same moment, makes one entry, and
  the second submission is a 409 that changes nothing.
- The provider may appeal a posted fine once, within LEDGER_APPEAL_DAYS, with a statement; a
  supervisor upholds the appeal (a linked reversal entry cancels the fine) or rejects it, once.

Free text (reasons, statements) stays on the fine's and the appeal's rows, where an erasure can
reach it; the audit trail keeps its keyed digest only.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.audit.ledger.entries import ledger_day, post, reversal
from dispatch.models import (
    Appeal,
    AppealStatus,
    Callback,
    Complaint,
    EntryKind,
    Fine,
    FineStatus,
    LedgerEntry,
    Party,
    ProductLine,
    Rating,
    Role,
    Verdict,
    WorkOrder,
    utcnow,
)
from dispatch.platform import personal
from dispatch.platform.actors import Actor
from dispatch.platform.config import bonus_table
from dispatch.platform.db import paginate
from dispatch.platform.errors import Conflict, Forbidden, NotFound


class FineDecision(enum.StrEnum):
    POST = "post"
    VOID = "void"


class AppealDecision(enum.StrEnum):
    UPHOLD = "uphold"
    REJECT = "reject"


COMPLETED = "completed"


def bonus_amount(settings: Mapping[str, Any], product_line: str) -> int:
    """The bonus for one verified very-satisfied job of this product line, in minor units."""
    table = bonus_table(settings["LEDGER_BONUS_BY_PRODUCT_LINE"])
    return int(table.get(product_line, settings["LEDGER_BONUS_MINOR"]))


def on_verdict(
    session: Session, callback: Callback, actor: Actor, now: datetime, settings: Mapping[str, Any]
) -> LedgerEntry | Fine | None:
    """What a verdict does to the ledger, in the verdict's transaction: a bonus posted, a fine
    proposed, or nothing."""
    if callback.provider_id is None or callback.verdict is None:
        return None
    if callback.verdict == Verdict.CONTRADICTED:
        return propose_fine(session, callback, actor, now, settings)
    if (
        callback.verdict == Verdict.CONFIRMED
        and callback.claim == COMPLETED
        and callback.rating == Rating.VERY_SATISFIED
        and callback.installer_id is not None
    ):
        return post_bonus(session, callback, actor, now, settings)
    return None


def post_bonus(
    session: Session, callback: Callback, actor: Actor, now: datetime, settings: Mapping[str, Any]
) -> LedgerEntry | None:
    """The installer's bonus for a verified very-satisfied job (once per callback); 0: none."""
    assert callback.installer_id is not None and callback.provider_id is not None
    line = session.scalar(
        select(ProductLine.code)
        .join(WorkOrder, WorkOrder.product_line_id == ProductLine.id)
        .where(WorkOrder.id == callback.work_order_id)
    )
    amount = bonus_amount(settings, line or "")
    if amount <= 0:
        return None
    return post(
        session,
        actor,
        cause=f"bonus:callback:{callback.id}",
        kind=EntryKind.BONUS,
        party=Party.INSTALLER,
        provider_id=callback.provider_id,
        installer_id=callback.installer_id,
        amount_minor=amount,
        currency=str(settings["LEDGER_CURRENCY"]),
        day=ledger_day(now, settings),
        memo=f"bonus: work order {callback.work_order_id} verified very satisfied (callback {callback.id}, {line})",
        callback_id=callback.id,
        work_order_id=callback.work_order_id,
    )


def propose_fine(
    session: Session, callback: Callback, actor: Actor, now: datetime, settings: Mapping[str, Any]
) -> Fine | None:
    """A fine proposed for a contradicted claim (once per callback), for a supervisor to decide."""
    assert callback.provider_id is not None
    amount = int(settings["LEDGER_FINE_MINOR"])
    if amount <= 0:
        return None
    complaint_id = session.scalar(select(Complaint.id).where(Complaint.callback_id == callback.id))
    fine = Fine(
        callback_id=callback.id,
        work_order_id=callback.work_order_id,
        complaint_id=complaint_id,
        provider_id=callback.provider_id,
        amount_minor=amount,
        currency=str(settings["LEDGER_CURRENCY"]),
        claim=callback.claim,
        status=FineStatus.PROPOSED.value,
        proposed_at=now,
    )
    session.add(fine)
    session.flush()
    trail.record(
        session,
        actor,
        "ledger_fine",
        fine.id,
        "proposed",
        to_state=fine.status,
        data={
            "callback_id": callback.id,
            "work_order_id": fine.work_order_id,
            "complaint_id": complaint_id,
            "provider_id": fine.provider_id,
            "amount_minor": amount,
            "currency": fine.currency,
            "claim": fine.claim,
        },
    )
    return fine


# --- who sees what --------------------------------------------------------------------------------


def _visible_fines(actor: Actor) -> Select[tuple[Fine]]:
    query = select(Fine)
    if actor.role == Role.PROVIDER:
        query = query.where(Fine.provider_id == actor.provider_id)
    return query


def get_fine(
    session: Session,
    actor: Actor,
    fine_id: int,
    *,
    for_update: bool = False,
    settings: Mapping[str, Any] | None = None,
) -> Fine:
    """One fine the actor may see (a provider: its own), or NotFound; with `settings`, its
    `appeal_until`."""
    query = _visible_fines(actor).where(Fine.id == fine_id)
    if for_update:
        query = query.with_for_update(of=Fine).execution_options(populate_existing=True)
    fine = session.scalars(query).unique().first()
    if fine is None:
        raise NotFound(f"fine {fine_id} not found")
    if settings is not None:
        fine.appeal_until = appeal_deadline(fine, settings)
    return fine


@dataclass(frozen=True)
class FineFilter:
    status: str | None = None
    provider_id: int | None = None
    work_order_id: int | None = None


def list_fines(
    session: Session,
    actor: Actor,
    flt: FineFilter,
    *,
    page: int,
    per_page: int,
    settings: Mapping[str, Any],
) -> tuple[list[Fine], int]:
    """A page of the fines the actor may see, newest first (each with its `appeal_until`)."""
    query = _visible_fines(actor)
    if flt.status:
        query = query.where(Fine.status == flt.status)
    if flt.provider_id is not None:  # (a provider's own only, whatever it filters on)
        query = query.where(Fine.provider_id == flt.provider_id)
    if flt.work_order_id is not None:
        query = query.where(Fine.work_order_id == flt.work_order_id)
    fines, total = paginate(session, query, (Fine.id.desc(),), page, per_page)
    for fine in fines:
        fine.appeal_until = appeal_deadline(fine, settings)
    return fines, total


def _visible_appeals(actor: Actor) -> Select[tuple[Appeal]]:
    query = select(Appeal)
    if actor.role == Role.PROVIDER:
        query = query.where(Appeal.provider_id == actor.provider_id)
    return query


def get_appeal(session: Session, actor: Actor, appeal_id: int, *, for_update: bool = False) -> Appeal:
    """One appeal the actor may see (a provider: its own), or NotFound."""
    query = _visible_appeals(actor).where(Appeal.id == appeal_id)
    if for_update:
        query = query.with_for_update(of=Appeal).execution_options(populate_existing=True)
    appeal = session.scalars(query).unique().first()
    if appeal is None:
        raise NotFound(f"appeal {appeal_id} not found")
    return appeal


def list_appeals(
    session: Session, actor: Actor, *, status: str | None, provider_id: int | None, page: int, per_page: int
) -> tuple[list[Appeal], int]:
    """A page of the appeals the actor may see, newest first."""
    query = _visible_appeals(actor)
    if status:
        query = query.where(Appeal.status == status)
    if provider_id is not None:
        query = query.where(Appeal.provider_id == provider_id)
    return paginate(session, query, (Appeal.id.desc(),), page, per_page)


# --- decisions ------------------------------------------------------------------------------------


def _supervisor(actor: Actor, what: str) -> None:
    if actor.role != Role.SUPERVISOR:
        raise Forbidden(f"only a supervisor may {what}")


def _decide(
    session: Session,
    target: Fine | Appeal,
    what: str,
    pending: enum.StrEnum,
    status: enum.StrEnum,
    actor: Actor,
    reason: str,
    now: datetime,
) -> None:
    """Take the decision on a fine or appeal still `pending`, exactly once: 409 once decided (the
    caller holds the row locked, so a decision sent twice at once waits, then finds it taken)."""
    if target.status != pending:
        raise Conflict(f"{what} {target.id} is {target.status} already; a decision is taken once")
    target.status = status.value
    target.decided_at = now
    target.decided_by_id = actor.user_id
    target.decision_reason = reason
    session.flush()


def _record_decision(
    session: Session,
    actor: Actor,
    entity: str,
    target: Fine | Appeal,
    pending: enum.StrEnum,
    reason: str,
    settings: Mapping[str, Any],
    **data: Any,
) -> None:
    """The decision's audit event: from `pending` to the new status, with the reason's digest."""
    trail.record(
        session,
        actor,
        entity,
        target.id,
        target.status,
        from_state=pending.value,
        to_state=target.status,
        data={**data, "reason_digest": personal.text_digest(reason, settings)},
    )


def decide_fine(
    session: Session,
    actor: Actor,
    fine_id: int,
    decision: str,
    reason: str,
    *,
    now: datetime | None = None,
    settings: Mapping[str, Any],
) -> Fine:
    """Post (a fine entry) or void a proposed fine, with a reason, exactly once: 409 once decided."""
    _supervisor(actor, "decide a fine")
    choice = FineDecision(decision)
    fine = get_fine(session, actor, fine_id, for_update=True)
    now = now or utcnow()
    posted = choice == FineDecision.POST
    _decide(
        session,
        fine,
        "fine",
        FineStatus.PROPOSED,
        FineStatus.POSTED if posted else FineStatus.VOIDED,
        actor,
        reason,
        now,
    )
    entry = None
    if posted:
        entry = post(
            session,
            actor,
            cause=f"fine:{fine.id}",
            kind=EntryKind.FINE,
            party=Party.PROVIDER,
            provider_id=fine.provider_id,
            installer_id=None,
            amount_minor=-fine.amount_minor,
            currency=fine.currency,
            day=ledger_day(now, settings),
            memo=f"fine {fine.id}: claim '{fine.claim}' contradicted on work order {fine.work_order_id} "
            f"(callback {fine.callback_id})",
            callback_id=fine.callback_id,
            work_order_id=fine.work_order_id,
            fine_id=fine.id,
        )
    _record_decision(
        session,
        actor,
        "ledger_fine",
        fine,
        FineStatus.PROPOSED,
        reason,
        settings,
        entry_id=entry.id if entry else None,
    )
    fine.appeal_until = appeal_deadline(fine, settings)
    return fine


def appeal_deadline(fine: Fine, settings: Mapping[str, Any]) -> datetime | None:
    """Until when a posted fine may be appealed."""
    if fine.status != FineStatus.POSTED or fine.decided_at is None:
        return None
    return fine.decided_at + timedelta(days=int(settings["LEDGER_APPEAL_DAYS"]))


def file_appeal(
    session: Session,
    actor: Actor,
    fine_id: int,
    statement: str,
    *,
    now: datetime | None = None,
    settings: Mapping[str, Any],
) -> Appeal:
    """The provider appeals its own posted fine with a statement, once, within LEDGER_APPEAL_DAYS."""
    if actor.role != Role.PROVIDER:
        raise Forbidden("only the fined provider may appeal")
    fine = get_fine(session, actor, fine_id, for_update=True)
    if fine.status != FineStatus.POSTED:
        raise Conflict(f"fine {fine.id} is {fine.status}; only a posted fine may be appealed")
    now = now or utcnow()
    deadline = appeal_deadline(fine, settings)
    if deadline is None or now > deadline:
        raise Conflict(f"fine {fine.id} could be appealed until {deadline.isoformat() if deadline else '-'}")
    if session.scalar(select(Appeal.id).where(Appeal.fine_id == fine.id)) is not None:
        raise Conflict(f"fine {fine.id} was appealed already; an appeal is filed once")
    assert actor.user_id is not None
    appeal = Appeal(
        fine_id=fine.id,
        provider_id=fine.provider_id,
        statement=statement,
        filed_at=now,
        filed_by_id=actor.user_id,
        status=AppealStatus.OPEN.value,
    )
    try:
        with session.begin_nested():
            session.add(appeal)
            session.flush()
    except IntegrityError:
        raise Conflict(f"fine {fine.id} was appealed already; an appeal is filed once") from None
    trail.record(
        session,
        actor,
        "ledger_appeal",
        appeal.id,
        "filed",
        to_state=appeal.status,
        data={
            "fine_id": fine.id,
            "provider_id": fine.provider_id,
            "statement_digest": personal.text_digest(statement, settings),
        },
    )
    return appeal


def decide_appeal(
    session: Session,
    actor: Actor,
    appeal_id: int,
    decision: str,
    reason: str,
    *,
    now: datetime | None = None,
    settings: Mapping[str, Any],
) -> Appeal:
    """Uphold (a linked reversal cancels the fine) or reject an open appeal, exactly once."""
    _supervisor(actor, "decide an appeal")
    choice = AppealDecision(decision)
    appeal = get_appeal(session, actor, appeal_id, for_update=True)
    now = now or utcnow()
    upheld = choice == AppealDecision.UPHOLD
    status = AppealStatus.UPHELD if upheld else AppealStatus.REJECTED
    _decide(session, appeal, "appeal", AppealStatus.OPEN, status, actor, reason, now)
    entry = None
    if upheld:
        fined = (
            session.scalars(select(LedgerEntry).where(LedgerEntry.cause == f"fine:{appeal.fine_id}"))
            .unique()
            .one()
        )
        entry = reversal(
            session,
            actor,
            fined,
            day=ledger_day(now, settings),
            memo=f"appeal {appeal.id} upheld: fine {appeal.fine_id} reversed (entry {fined.id})",
            appeal_id=appeal.id,
        )
    _record_decision(
        session,
        actor,
        "ledger_appeal",
        appeal,
        AppealStatus.OPEN,
        reason,
        settings,
        fine_id=appeal.fine_id,
        reversal_entry_id=entry.id if entry else None,
    )
    return appeal
