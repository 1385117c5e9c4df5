"""The callback team: the human queue in order of risk, and leases so that two agents never call
the same customer at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from dispatch.audit import scheduling, trail
from dispatch.audit.callbacks.answers import CustomerAnswer, _human_attempt, _resolve, record_answer
from dispatch.audit.callbacks.common import CS, _cfg, _lock, _record, _tz
from dispatch.models import (
    Callback,
    Channel,
    City,
    Customer,
    Verdict,
    WorkOrder,
    utcnow,
)
from dispatch.platform import personal
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Conflict, Invalid, NotFound

HIGH_RISK_PROVIDER_BONUS = 60


@dataclass
class QueueItem:
    """One callback due for a person, with what the agent needs on screen."""

    callback: Callback
    provider_contradiction_percent: int | None
    high_risk_provider: bool
    score: int
    callable_now: bool
    local_time: datetime
    mine: bool


def provider_contradiction_rates(
    session: Session, settings: Mapping[str, Any], now: datetime
) -> dict[int, tuple[int, int]]:
    """{provider id: (contradicted, decided)} over the risk window (decided = confirmed + contradicted)."""
    since = now - timedelta(days=int(settings["CALLBACK_RISK_WINDOW_DAYS"]))
    contradicted = func.sum(case((Callback.verdict == Verdict.CONTRADICTED, 1), else_=0))
    rows = session.execute(
        select(Callback.provider_id, contradicted, func.count())
        .where(
            Callback.provider_id.is_not(None),
            Callback.resolved_at >= since,
            Callback.verdict.in_([Verdict.CONFIRMED, Verdict.CONTRADICTED]),
        )
        .group_by(Callback.provider_id)
    ).all()
    return {pid: (int(bad or 0), int(total)) for pid, bad, total in rows}


def human_queue(
    session: Session,
    actor: Actor,
    settings: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
    limit: int = 50,
) -> list[QueueItem]:
    """The callbacks due for a person, most important first.

    Order: the caller's own leases, then callbacks whose customer can be called now, then by score
    (risk of the claim, plus a bonus for providers with a high contradiction rate), then oldest due.
    A claim whose lease has expired is offered again.
    """
    settings = _cfg(settings)
    now = now or utcnow()
    rates = provider_contradiction_rates(session, settings, now)
    threshold = int(settings["CALLBACK_HIGH_RISK_PERCENT"])
    percents = {pid: round(100 * bad / total) for pid, (bad, total) in rates.items() if total}
    high_risk = [pid for pid, percent in percents.items() if percent >= threshold]
    # Whether a customer may be called now depends only on their time zone: a handful of zones,
    # so the database can rank the whole backlog (a night-time zone's urgent callbacks must not
    # push the ones that can be called now out of sight).
    zones = session.scalars(select(City.timezone).distinct()).all()
    callable_zones = [tz for tz in zones if scheduling.in_calling_hours(now, tz, settings)]
    mine = (
        (Callback.state == CS.CLAIMED)
        & (Callback.lease_holder_id == actor.user_id)
        & (Callback.lease_until >= now)
    )
    score = Callback.priority + case((Callback.provider_id.in_(high_risk), HIGH_RISK_PROVIDER_BONUS), else_=0)
    rows = session.execute(
        select(Callback, City.timezone)
        .join(WorkOrder, WorkOrder.id == Callback.work_order_id)
        .join(Customer, Customer.id == WorkOrder.customer_id)
        .join(City, City.id == Customer.city_id)
        .where(
            or_(
                (Callback.state == CS.HUMAN_QUEUE) & (Callback.due_at <= now),
                (Callback.state == CS.CLAIMED) & (Callback.lease_until < now),
                (Callback.state == CS.CLAIMED) & (Callback.lease_holder_id == actor.user_id),
            )
        )
        .order_by(
            case((mine, 0), else_=1),
            case((City.timezone.in_(callable_zones), 0), else_=1),
            score.desc(),
            Callback.due_at,
            Callback.id,
        )
        .limit(limit)
    ).unique()
    items = []
    for cb, tz in rows:
        percent = percents.get(cb.provider_id) if cb.provider_id else None
        items.append(
            QueueItem(
                callback=cb,
                provider_contradiction_percent=percent,
                high_risk_provider=percent is not None and percent >= threshold,
                score=cb.priority + (HIGH_RISK_PROVIDER_BONUS if cb.provider_id in high_risk else 0),
                callable_now=tz in callable_zones,
                local_time=scheduling.local_time(now, tz),
                mine=cb.state == CS.CLAIMED and cb.lease_holder_id == actor.user_id and cb.lease_until >= now,
            )
        )
    return items


def get_callback(session: Session, callback_id: int) -> Callback:
    """One callback (headquarters' roles only: the API checks the role), or NotFound."""
    callback = session.get(Callback, callback_id)
    if callback is None:
        raise NotFound(f"callback {callback_id} not found")
    return callback


def claim(
    session: Session,
    actor: Actor,
    callback_id: int,
    settings: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> Callback:
    """Lease a callback to one agent, so that two agents never call the same customer at once.

    Another agent's live lease is a Conflict; an expired one is taken over; the holder renews.
    """
    settings = _cfg(settings)
    now = now or utcnow()
    callback = _lock(session, callback_id)
    if callback is None:
        raise NotFound(f"callback {callback_id} not found")
    live = callback.state == CS.CLAIMED and callback.lease_until is not None and callback.lease_until >= now
    if live and callback.lease_holder_id != actor.user_id:
        raise Conflict(
            f"callback {callback.id} is being handled by another agent until {callback.lease_until:%H:%M} UTC"
        )
    if callback.state not in (CS.HUMAN_QUEUE, CS.CLAIMED):
        raise Conflict(f"callback {callback.id} is {callback.state}, not waiting for the callback team")
    before = callback.state
    previous = callback.lease_holder_id if callback.state == CS.CLAIMED else None
    callback.state = CS.CLAIMED.value
    callback.lease_holder_id = actor.user_id
    callback.lease_until = now + timedelta(minutes=float(settings["CALLBACK_LEASE_MINUTES"]))
    session.flush()
    action = "lease_renewed" if live else ("lease_taken_over" if previous else "claimed")
    _record(
        session, actor, callback, action, before, lease_until=callback.lease_until, previous_holder=previous
    )
    return callback


def _held_by(callback: Callback | None, actor: Actor, callback_id: int, now: datetime) -> Callback:
    if callback is None:
        raise NotFound(f"callback {callback_id} not found")
    if callback.state != CS.CLAIMED or callback.lease_holder_id != actor.user_id:
        raise Conflict(f"callback {callback_id} is not claimed by you; claim it first")
    if callback.lease_until is None or callback.lease_until < now:
        raise Conflict(f"your lease on callback {callback_id} has expired; claim it again")
    return callback


def release(session: Session, actor: Actor, callback_id: int, *, now: datetime | None = None) -> Callback:
    """Give a claimed callback back to the queue (only its lease holder may)."""
    now = now or utcnow()
    callback = _held_by(_lock(session, callback_id), actor, callback_id, now)
    before = callback.state
    callback.state = CS.HUMAN_QUEUE.value
    callback.lease_holder_id = None
    callback.lease_until = None
    session.flush()
    _record(session, actor, callback, "released", before)
    return callback


def answer_by_agent(
    session: Session,
    actor: Actor,
    callback_id: int,
    *,
    reached: bool,
    happened: str | None,
    rating: str | None,
    note: str | None,
    settings: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Callback:
    """The lease holder records the call: the customer's answer (-> verdict), or not reached.

    Not reached CALLBACK_MAX_HUMAN_ATTEMPTS times ends `unreachable`, which confirms nothing.
    """
    settings = _cfg(settings)
    now = now or utcnow()
    callback = _held_by(_lock(session, callback_id), actor, callback_id, now)
    if reached:
        if not happened:
            raise Invalid.field("happened", "is required when the customer was reached")
        record_answer(
            session,
            callback.id,
            CustomerAnswer(happened=happened, rating=rating, note=note),
            channel=Channel.HUMAN.value,
            actor=actor,
            settings=settings,
        )
        return callback
    attempt = _human_attempt(
        session,
        callback,
        actor,
        now,
        status="not_reached",
        ended_at=now,
        answer_text=note,
        status_history=[{"status": "not_reached", "at": now.isoformat()}],
    )
    callback.human_attempts += 1
    session.flush()
    trail.record(
        session,
        actor,
        "callback",
        callback.id,
        "not_reached",
        data={
            "attempt_id": attempt.id,
            "human_attempts": callback.human_attempts,
            # The agent's note may quote the customer: on the attempt (erasable), a digest here.
            "note_digest": personal.text_digest(note, settings),
        },
    )
    if callback.human_attempts >= int(settings["CALLBACK_MAX_HUMAN_ATTEMPTS"]):
        callback.answer_note = note
        _resolve(
            session,
            callback,
            Verdict.UNREACHABLE,
            actor,
            now,
            settings,
            answer=None,
            channel=Channel.HUMAN.value,
            attempt_id=attempt.id,
        )
        return callback
    before = callback.state
    callback.state = CS.HUMAN_QUEUE.value
    callback.lease_holder_id = None
    callback.lease_until = None
    callback.due_at = scheduling.after(now, settings["CALLBACK_HUMAN_RETRY_MINUTES"], _tz(callback), settings)
    session.flush()
    _record(session, actor, callback, "back_to_queue", before, due_at=callback.due_at)
    return callback
