"""The callback team: the human queue in order of risk, and leases so that two agents never call
the same customer at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, defaultload, lazyload

from dispatch.audit import scheduling, trail
from dispatch.audit.callbacks.answers import CustomerAnswer, _human_attempt, _resolve, record_answer
from dispatch.audit.callbacks.common import CS, _cfg, _lock, _record, _tz
from dispatch.models import (
    Callback,
    Channel,
    City,
    ContactAttempt,
    Customer,
    ScorecardDay,
    User,
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
    """{provider id: (contradicted, decided)} over the risk window (decided = confirmed + contradicted).

    Read from the scorecards' daily counters (kept in each verdict's own transaction), whose days
    are the cities' local days: the window starts on the local day CALLBACK_RISK_WINDOW_DAYS ago.
    Summing verdicts from the callbacks themselves scanned every verdict of the window on each
    Next and each refresh of the live list (330 ms with 1,000,000 orders stored).
    """
    since = (now - timedelta(days=int(settings["CALLBACK_RISK_WINDOW_DAYS"]))).date()
    rows = session.execute(
        select(
            ScorecardDay.provider_id,
            func.sum(ScorecardDay.contradicted),
            func.sum(ScorecardDay.confirmed + ScorecardDay.contradicted),
        )
        .where(ScorecardDay.day >= since)
        .group_by(ScorecardDay.provider_id)
    ).all()
    return {pid: (int(bad or 0), int(total or 0)) for pid, bad, total in rows if total}


@dataclass
class _Ranking:
    """What orders the queue now: the time zones inside calling hours, the high-risk providers."""

    percents: dict[int, int]
    threshold: int
    high_risk: list[int]
    callable_zones: list[str]

    def score(self) -> Any:
        """Claim risk, plus a bonus for a provider with a high contradiction rate (SQL)."""
        return Callback.priority + case(
            (Callback.provider_id.in_(self.high_risk), HIGH_RISK_PROVIDER_BONUS), else_=0
        )

    def order(self) -> list[Any]:
        """Callable now first, then by score, then oldest due (SQL; City joined)."""
        return [
            case((City.timezone.in_(self.callable_zones), 0), else_=1),
            self.score().desc(),
            Callback.due_at,
            Callback.id,
        ]


def _ranking(session: Session, settings: Mapping[str, Any], now: datetime) -> _Ranking:
    rates = provider_contradiction_rates(session, settings, now)
    threshold = int(settings["CALLBACK_HIGH_RISK_PERCENT"])
    percents = {pid: round(100 * bad / total) for pid, (bad, total) in rates.items() if total}
    # Whether a customer may be called now depends only on their time zone: a handful of zones,
    # so the database can rank the whole backlog (a night-time zone's urgent callbacks must not
    # push the ones that can be called now out of sight).
    zones = session.scalars(select(City.timezone).distinct()).all()
    return _Ranking(
        percents=percents,
        threshold=threshold,
        high_risk=[pid for pid, percent in percents.items() if percent >= threshold],
        callable_zones=[tz for tz in zones if scheduling.in_calling_hours(now, tz, settings)],
    )


# Free for the next agent: waiting and due, or claimed by someone whose lease has run out.
def _free(now: datetime) -> Any:
    return or_(
        (Callback.state == CS.HUMAN_QUEUE) & (Callback.due_at <= now),
        (Callback.state == CS.CLAIMED) & (Callback.lease_until < now),
    )


def _item(cb: Callback, tz: str, ranking: _Ranking, actor: Actor, now: datetime) -> QueueItem:
    percent = ranking.percents.get(cb.provider_id) if cb.provider_id else None
    return QueueItem(
        callback=cb,
        provider_contradiction_percent=percent,
        high_risk_provider=percent is not None and percent >= ranking.threshold,
        score=cb.priority + (HIGH_RISK_PROVIDER_BONUS if cb.provider_id in ranking.high_risk else 0),
        callable_now=tz in ranking.callable_zones,
        local_time=scheduling.local_time(now, tz),
        mine=_is_mine(cb, actor, now),
    )


def _is_mine(cb: Callback, actor: Actor, now: datetime) -> bool:
    return (
        cb.state == CS.CLAIMED
        and cb.lease_holder_id == actor.user_id
        and cb.lease_until is not None
        and cb.lease_until >= now
    )


def _with_city(query: Any) -> Any:
    return (
        query.join(WorkOrder, WorkOrder.id == Callback.work_order_id)
        .join(Customer, Customer.id == WorkOrder.customer_id)
        .join(City, City.id == Customer.city_id)
    )


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
    ranking = _ranking(session, settings, now)
    mine = (
        (Callback.state == CS.CLAIMED)
        & (Callback.lease_holder_id == actor.user_id)
        & (Callback.lease_until >= now)
    )
    rows = session.execute(
        _with_city(select(Callback, City.timezone))
        .where(or_(_free(now), (Callback.state == CS.CLAIMED) & (Callback.lease_holder_id == actor.user_id)))
        .order_by(case((mine, 0), else_=1), *ranking.order())
        .limit(limit)
    ).unique()
    return [_item(cb, tz, ranking, actor, now) for cb, tz in rows]


def my_lease(session: Session, actor: Actor, *, now: datetime | None = None) -> Callback | None:
    """The callback this agent holds a live lease on, if any (one at a time through claim_next)."""
    now = now or utcnow()
    return session.scalars(
        select(Callback)
        .where(
            Callback.state == CS.CLAIMED,
            Callback.lease_holder_id == actor.user_id,
            Callback.lease_until >= now,
        )
        .order_by(Callback.lease_until.desc(), Callback.id)
        .limit(1)
    ).first()


def claim_next(
    session: Session,
    actor: Actor,
    settings: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> Callback | None:
    """Lease the most important callback that can be called now to this agent; None if none is.

    The agent's own live lease, if any, is returned again (Next pressed twice takes one callback).
    Otherwise the first free one by human_queue's ranking whose customer is inside calling hours,
    locked with FOR UPDATE SKIP LOCKED: two agents pressing Next at once get different callbacks
    (one skips the row the other is taking). SQLite has no row locks: its write lock, taken when
    the transaction begins (BEGIN IMMEDIATE), serialises them instead.
    """
    settings = _cfg(settings)
    now = now or utcnow()
    held = my_lease(session, actor, now=now)
    if held is not None:
        return held
    ranking = _ranking(session, settings, now)
    if not ranking.callable_zones:
        return None
    candidate = session.scalars(
        _with_city(select(Callback))
        .where(_free(now), City.timezone.in_(ranking.callable_zones))
        .options(lazyload(Callback.work_order), lazyload(Callback.provider))
        .order_by(*ranking.order())
        .limit(1)
        .with_for_update(of=Callback, skip_locked=True)
    ).first()
    if candidate is None:
        return None
    return claim(session, actor, candidate.id, settings, now=now)


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
    return _not_reached(session, actor, callback, NO_ANSWER, None, note, settings, now)


# Why an agent did not get an answer. Each puts the callback back on the ladder: no answer and a
# wrong number count towards CALLBACK_MAX_HUMAN_ATTEMPTS (then `unreachable`, which confirms
# nothing); a customer who asked to be called later was reached, so that call does not count,
# and the callback is due again at the time asked for.
NO_ANSWER = "no_answer"
WRONG_NUMBER = "wrong_number"
CALL_LATER = "call_later"
NOT_REACHED_REASONS = (NO_ANSWER, WRONG_NUMBER, CALL_LATER)
# How far ahead a customer may ask to be called back.
CALL_LATER_MAX_DAYS = 14


def not_reached(
    session: Session,
    actor: Actor,
    callback_id: int,
    *,
    reason: str,
    call_at: datetime | None = None,
    note: str | None = None,
    settings: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Callback:
    """The lease holder did not get an answer, and says why (NOT_REACHED_REASONS); with
    `call_later`, `call_at` is when the customer asked to be called (without a time zone: on the
    customer's wall clock)."""
    settings = _cfg(settings)
    now = now or utcnow()
    if reason not in NOT_REACHED_REASONS:
        raise Invalid.field("reason", f"must be one of {', '.join(NOT_REACHED_REASONS)}")
    if reason == CALL_LATER:
        if call_at is None:
            raise Invalid.field("call_at", "is required when the customer asked to be called later")
        if call_at.tzinfo is None:
            held = _held_by(_lock(session, callback_id), actor, callback_id, now)
            call_at = call_at.replace(tzinfo=ZoneInfo(_tz(held)))
        if call_at <= now:
            raise Invalid.field("call_at", "must be in the future")
        if call_at > now + timedelta(days=CALL_LATER_MAX_DAYS):
            raise Invalid.field("call_at", f"must be within {CALL_LATER_MAX_DAYS} days")
    elif call_at is not None:
        raise Invalid.field("call_at", "is only for a customer who asked to be called later")
    callback = _held_by(_lock(session, callback_id), actor, callback_id, now)
    if call_at is not None and not scheduling.in_calling_hours(call_at, _tz(callback), settings):
        raise Invalid.field(
            "call_at",
            f"must be inside calling hours at the customer's ({settings['CALLING_HOURS_START']}"
            f" to {settings['CALLING_HOURS_END']} their time)",
        )
    return _not_reached(session, actor, callback, reason, call_at, note, settings, now)


def _not_reached(
    session: Session,
    actor: Actor,
    callback: Callback,
    reason: str,
    call_at: datetime | None,
    note: str | None,
    settings: Mapping[str, Any],
    now: datetime,
) -> Callback:
    entry: dict[str, Any] = {"status": "not_reached", "at": now.isoformat(), "reason": reason}
    if call_at is not None:
        entry["call_at"] = call_at.isoformat()
    attempt = _human_attempt(
        session,
        callback,
        actor,
        now,
        status="not_reached",
        ended_at=now,
        answer_text=note,
        status_history=[entry],
    )
    counts = reason != CALL_LATER
    if counts:
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
            "reason": reason,
            **({"call_at": call_at.isoformat()} if call_at is not None else {}),
            "human_attempts": callback.human_attempts,
            # The agent's note may quote the customer: on the attempt (erasable), a digest here.
            "note_digest": personal.text_digest(note, settings),
        },
    )
    if counts and callback.human_attempts >= int(settings["CALLBACK_MAX_HUMAN_ATTEMPTS"]):
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
    if call_at is not None:
        callback.due_at = call_at
    else:
        callback.due_at = scheduling.after(
            now, settings["CALLBACK_HUMAN_RETRY_MINUTES"], _tz(callback), settings
        )
    session.flush()
    _record(session, actor, callback, "back_to_queue", before, due_at=callback.due_at, reason=reason)
    return callback


@dataclass
class BoardRow:
    """One line of the team's live list: a callback waiting, or held by an agent until a time."""

    callback: Callback
    holder: str | None  # the agent holding a live lease
    mine: bool
    lease_expired: bool  # claimed, but the lease ran out: free for anyone
    callable_now: bool
    local_time: datetime  # the customer's
    score: int


@dataclass
class Board:
    """What the callback team sees at once: who is calling whom, and what waits, in order."""

    held: list[BoardRow]
    waiting: list[BoardRow]
    waiting_total: int
    next_due_at: datetime | None  # the earliest callback not due yet


_BOARD_SKIPS = (WorkOrder.unit, WorkOrder.city, WorkOrder.product_line, WorkOrder.provider)


def team_board(
    session: Session,
    actor: Actor,
    settings: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
    limit: int = 30,
) -> Board:
    """The live list: every live lease with its holder and end, then the waiting callbacks in the
    order Next takes them (human_queue's ranking)."""
    settings = _cfg(settings)
    now = now or utcnow()
    ranking = _ranking(session, settings, now)
    live = (Callback.state == CS.CLAIMED) & (Callback.lease_until >= now)

    def rows(where: Any, order: list[Any], n: int | None) -> list[BoardRow]:
        query = (
            _with_city(select(Callback, City.timezone, User.name))
            .outerjoin(User, User.id == Callback.lease_holder_id)
            .where(where)
            .order_by(*order)
            # A line of the list shows the callback, its provider and its customer's city: not the
            # unit, model, lines and cities an order joins on its own (with 150 live leases the
            # ORM built 11 objects a line, the console's slowest part at 1,000,000 orders).
            .options(*(defaultload(Callback.work_order).lazyload(rel) for rel in _BOARD_SKIPS))
        )
        found = session.execute(query.limit(n) if n else query).unique()
        out = []
        for cb, tz, holder in found:
            item = _item(cb, tz, ranking, actor, now)
            held = cb.state == CS.CLAIMED and cb.lease_until is not None and cb.lease_until >= now
            out.append(
                BoardRow(
                    callback=cb,
                    holder=holder if held else None,
                    mine=item.mine,
                    lease_expired=cb.state == CS.CLAIMED and not held,
                    callable_now=item.callable_now,
                    local_time=item.local_time,
                    score=item.score,
                )
            )
        return out

    waiting_total = session.scalar(select(func.count()).select_from(Callback).where(_free(now))) or 0
    next_due = session.scalar(
        select(func.min(Callback.due_at)).where(Callback.state == CS.HUMAN_QUEUE, Callback.due_at > now)
    )
    return Board(
        held=rows(live, [Callback.lease_until, Callback.id], None),
        waiting=rows(_free(now), ranking.order(), limit),
        waiting_total=int(waiting_total),
        next_due_at=next_due,
    )


def agent_calls(session: Session, actor: Actor, since: datetime, until: datetime) -> dict[str, int]:
    """The calls this agent recorded between two times: {"answered": n, "not_reached": m}."""
    rows = session.execute(
        select(ContactAttempt.status, func.count())
        .where(
            ContactAttempt.agent_user_id == actor.user_id,
            ContactAttempt.channel == Channel.HUMAN,
            ContactAttempt.ended_at >= since,
            ContactAttempt.ended_at < until,
        )
        .group_by(ContactAttempt.status)
    ).all()
    counts = {"answered": 0, "not_reached": 0}
    counts.update({status: int(n) for status, n in rows if status in counts})
    return counts
