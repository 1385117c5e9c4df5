"""Complaints held at headquarters: opened by a contradicted claim, read by the provider, never
changed or deleted by it. Supervisors move them open -> investigating -> closed, with a note."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from dispatch.audit import scorecards, trail
from dispatch.models import Callback, Complaint, ComplaintStatus, Provider, Role, utcnow
from dispatch.platform import personal
from dispatch.platform.actors import Actor
from dispatch.platform.db import paginate
from dispatch.platform.errors import Conflict, Forbidden, Invalid, NotFound

KIND_CONTRADICTED = "contradicted_claim"

# Where a complaint may go from each status (a closed complaint stays closed).
STATUS_MOVES: dict[str, frozenset[str]] = {
    ComplaintStatus.OPEN: frozenset({ComplaintStatus.INVESTIGATING, ComplaintStatus.CLOSED}),
    ComplaintStatus.INVESTIGATING: frozenset({ComplaintStatus.CLOSED}),
    ComplaintStatus.CLOSED: frozenset(),
}


def open_for_callback(
    session: Session,
    callback: Callback,
    actor: Actor,
    settings: Mapping[str, Any],
    *,
    summary: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Complaint:
    """Open the complaint a contradicted claim implies and put its provider under review.

    `summary` names the claim and the answer (no personal data); `note`, the customer's words or
    the agent's note, is added to the complaint's own summary only: never to the audit trail or
    the provider's review reason, which outlive an erasure.
    """
    now = now or utcnow()
    if callback.provider_id is None:
        raise Conflict(f"callback {callback.id} has no provider to complain about")
    complaint = Complaint(
        work_order_id=callback.work_order_id,
        visit_id=callback.visit_id,
        callback_id=callback.id,
        provider_id=callback.provider_id,
        kind=KIND_CONTRADICTED,
        status=ComplaintStatus.OPEN.value,
        summary=summary + (f" ({note})" if note else ""),
        deadline_at=now + timedelta(hours=int(settings["COMPLAINT_DEADLINE_HOURS"])),
        created_at=now,
        updated_at=now,
    )
    session.add(complaint)
    session.flush()
    trail.record(
        session,
        actor,
        "complaint",
        complaint.id,
        "opened",
        to_state=complaint.status,
        data={
            "work_order_id": complaint.work_order_id,
            "visit_id": complaint.visit_id,
            "callback_id": complaint.callback_id,
            "provider_id": complaint.provider_id,
            "kind": complaint.kind,
            "summary": summary,
            "note_digest": personal.text_digest(note, settings),
            "deadline_at": complaint.deadline_at,
        },
    )
    put_under_review(session, complaint.provider_id, f"complaint {complaint.id}: {summary}", actor)
    scorecards.count_complaint(session, complaint, callback.installer_id)
    return complaint


def put_under_review(session: Session, provider_id: int, reason: str, actor: Actor) -> None:
    """Flag a provider for review, with the reason (every flag is an audit event)."""
    # FOR NO KEY UPDATE, not FOR UPDATE: the complaint just inserted holds a KEY SHARE lock on
    # this provider (its foreign key), and so does every concurrent complaint about the same
    # provider; FOR UPDATE conflicts with those, and two contradicted verdicts at once deadlocked
    # (found by the month replay with 3 workers). Only non-key columns change here.
    provider = session.get(Provider, provider_id, with_for_update={"key_share": True})
    if provider is None:
        raise NotFound(f"provider {provider_id} not found")
    was = provider.under_review
    provider.under_review = True
    provider.review_reason = reason[:2000]
    session.flush()
    trail.record(
        session,
        actor,
        "provider",
        provider.id,
        "under_review",
        from_state="under_review" if was else "in_good_standing",
        to_state="under_review",
        data={"reason": provider.review_reason},
    )


def _visible(actor: Actor) -> Select[tuple[Complaint]]:
    query = select(Complaint)
    if actor.role == Role.PROVIDER:
        query = query.where(Complaint.provider_id == actor.provider_id)
    return query


@dataclass(frozen=True)
class ComplaintFilter:
    status: str | None = None
    provider_id: int | None = None
    work_order_id: int | None = None


def list_complaints(
    session: Session, actor: Actor, flt: ComplaintFilter, *, page: int, per_page: int
) -> tuple[list[Complaint], int]:
    """A page of the complaints the actor may see (a provider: its own), newest first."""
    query = _visible(actor)
    if flt.status:
        query = query.where(Complaint.status == flt.status)
    if flt.provider_id:
        query = query.where(Complaint.provider_id == flt.provider_id)
    if flt.work_order_id:
        query = query.where(Complaint.work_order_id == flt.work_order_id)
    return paginate(session, query, (Complaint.created_at.desc(), Complaint.id.desc()), page, per_page)


def get_complaint(
    session: Session, actor: Actor, complaint_id: int, *, for_update: bool = False
) -> Complaint:
    """One complaint the actor may see, or NotFound (also another provider's)."""
    query = _visible(actor).where(Complaint.id == complaint_id)
    if for_update:
        query = query.with_for_update(of=Complaint)
    complaint = session.scalars(query).unique().first()
    if complaint is None:
        raise NotFound(f"complaint {complaint_id} not found")
    return complaint


def complaint_detail(session: Session, actor: Actor, complaint_id: int) -> Complaint:
    """One complaint the actor may see, with its full history (as `history`)."""
    complaint = get_complaint(session, actor, complaint_id)
    complaint.history = trail.history(session, "complaint", complaint.id)
    return complaint


def set_status(
    session: Session,
    actor: Actor,
    complaint_id: int,
    status: str,
    note: str,
    *,
    now: datetime | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Complaint:
    """Headquarters moves a complaint on (investigating, closed) with a note; providers never can."""
    if actor.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden("only headquarters may change a complaint")
    if status not in (ComplaintStatus.INVESTIGATING, ComplaintStatus.CLOSED):
        raise Invalid.field("status", "must be investigating or closed")
    complaint = get_complaint(session, actor, complaint_id, for_update=True)
    if status not in STATUS_MOVES[ComplaintStatus(complaint.status)]:
        raise Conflict(f"complaint {complaint.id} is {complaint.status}; it cannot become {status}")
    now = now or utcnow()
    before = complaint.status
    complaint.status = status
    complaint.status_note = note
    complaint.updated_at = now
    if status == ComplaintStatus.CLOSED:
        complaint.closed_at = now
    session.flush()
    trail.record(
        session,
        actor,
        "complaint",
        complaint.id,
        "status_changed",
        from_state=before,
        to_state=status,
        # The note is free text (it may quote the customer): on the complaint, a digest here.
        data={"note_digest": personal.text_digest(note, settings)},
    )
    return complaint


def complaint_answer(session: Session, actor: Actor, complaint_id: int) -> Callback | None:
    """The callback whose answer opened a complaint the actor may see (NotFound as get_complaint)."""
    complaint = get_complaint(session, actor, complaint_id)
    return session.get(Callback, complaint.callback_id) if complaint.callback_id is not None else None
