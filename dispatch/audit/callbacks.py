"""Verification callbacks: every closed (or overdue) order is checked with the customer.

INTERFACE CONTRACT (implemented; see issue 3). Two parts of the code meet here:
- the callbacks domain (this module, verdicts.py, complaints.py): planning, escalation, answers,
  verdicts, the human queue;
- the telephony side (dispatch/telephony/, dispatch/jobs/, dispatch/api/webhooks.py): places calls
  and texts, turns Twilio webhooks into calls of the functions below.

Lifecycle of a Callback:
  scheduled --(automated attempt started)--> in_progress --(answer)--> resolved
  in_progress --(no answer / busy / failed / machine)--> scheduled (next channel, later)
  after CALLBACK_MAX_AUTOMATED_ATTEMPTS automated attempts, or an opt-out -> human_queue
  human_queue --claim (lease)--> claimed --answer--> resolved | --release/lease expiry--> human_queue
  A resolved callback carries a verdict: confirmed | contradicted | customer_rescheduled | unreachable.

A ContactAttempt is one try on one channel (voice, sms, human). It has its own id, and is created
and committed *before* anything is dialled or sent; a job that finds its attempt already started
does nothing, so no attempt is ever dialled twice.

REQUESTS FROM THE TELEPHONY SIDE (dispatch/jobs/callbacks.py, dispatch/api/webhooks.py use these):
- Outbox job name "place_callback_attempt", payload {"callback_id": int, "channel": "voice"|"sms"}.
  The telephony side registers it in outbox.JOBS and jobs/tasks.REGISTRY
  (-> dispatch.jobs.callbacks.place_callback_attempt). The job waits for the shared rate limit,
  then start_attempt + COMMIT, then dials, then attempt_placed + commit.
- dial_target(session, attempt_id) -> tuple[str, Prompt]: the customer's E.164 number and the
  prompt, needed right after start_attempt (prompt_for_attempt needs a sid we do not have yet).
- release_attempt(session, attempt_id, error: str) -> None: nothing was dialled (connection
  refused, Twilio answered 429/5xx), so the next start_attempt for this callback and channel
  returns the SAME attempt id again and an RQ retry dials it once. A worker killed after
  start_attempt leaves the attempt un-released: start_attempt then returns None (never dial
  twice). Please treat an attempt with no final status after a timeout as not answered (sweep).
- attempt_failed(session, attempt_id, error: str) -> None: the provider refused for good (e.g. an
  invalid number, or a timeout where we cannot know): like a 'failed' status callback.
- attempt_placed: idempotent (same attempt + sid again is a no-op). Webhook URLs carry
  ?attempt=<id>, and the webhooks call attempt_placed first, in case Twilio's callback outruns
  the job's commit of the sid.
- attempt_status statuses passed as Twilio sends them: calls: queued|initiated|ringing|in-progress|
  completed|busy|no-answer|failed|canceled (+ AnsweredBy human|machine_start|machine_end_beep|
  machine_end_silence|machine_end_other|fax|unknown); SMS: queued|sent|delivered|undelivered|
  failed|received. A call 'completed' by a human with NO answer recorded = not answered.
- sms_reply_target(session, phone_e164) -> Prompt | None, and Prompt.attempt_id: int | None:
  the latest open SMS attempt awaiting a reply from this number (inbound SMS has a new sid).
- opt_in(session, phone_e164, source, settings=None) -> None for START / UNSTOP (undo opt_out; nothing else).
- CustomerAnswer.happened for the other not-completed reasons (parts_missing, site_not_ready, ...):
  "confirmed" (1) | "disputed" (2) | "rescheduled" (3). Completed: "done" (1) | "not_done" (2),
  rating asked only after "done". status_check: "done" (1) | "not_done" (2) | "rescheduled" (3).
- Timings in tests and the demo must run in seconds: please let the CALLBACK_*_MINUTES settings
  take fractional values from the environment (e.g. DISPATCH_CALLBACK_RETRY_MINUTES=0.05; the
  config loader int()s keys whose default is an int, so make those defaults floats and use
  timedelta(minutes=float(v))), and let CALLING_HOURS_END be "24:00" (all day) for the demo.

ANSWERS FROM THE CALLBACKS SIDE (all the requests above are implemented as asked):
- Every function that needs settings takes an optional keyword `settings=` (jobs: runtime.settings(),
  views/webhooks: current_app.config); without it the process's configuration is loaded.
- start_attempt returns None unless the callback is `scheduled`, due (due_at <= now) and
  `channel` is its next_channel; a `released` attempt on the same channel is returned again.
- The outbox row is written by the callbacks side with job "place_callback_attempt" (it is in
  outbox.JOBS); its available_at is the due time. The sweep (cron) re-puts one for a due callback
  whose last request is older than CALLBACK_SWEEP_STALE_MINUTES, and for a `released` attempt.
- An attempt that never reported a final status (voice: CALLBACK_CALL_TIMEOUT_MINUTES; a text:
  CALLBACK_SMS_REPLY_MINUTES for the reply) is closed as not answered by the sweep.
- record_answer on a resolved callback returns the first verdict and changes nothing (safe for a
  repeated Gather webhook); an answer that does not fit the claim raises errors.Invalid (422).
- The *_MINUTES settings are floats (fractional minutes work from the environment too), and
  CALLING_HOURS_END may be "24:00" (calls at any time after CALLING_HOURS_START).
- Attempt statuses: started -> placed -> ringing/in_progress/awaiting_reply -> answered |
  not_answered | failed | opted_out; human attempts: answered | not_reached.
- Also here: sweep() and plan_status_checks() (cron jobs in jobs/tasks.py, each under a
  PostgreSQL advisory lock), and the callback team's human_queue/claim/release/answer_by_agent
  (dispatch/api/callbacks.py). Verdict effects live in _apply: confirmed completion -> verified;
  contradicted -> complaint (complaints.py) + order reopened + provider under review;
  customer_rescheduled -> order reopened; unreachable -> nothing (never a confirmation).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased, lazyload

from dispatch.audit import complaints, scheduling, trail, verdicts
from dispatch.models import (
    Callback,
    CallbackPurpose,
    CallbackState,
    Channel,
    City,
    ContactAttempt,
    Customer,
    OptOut,
    OrderState,
    Provider,
    Rating,
    UTCDateTime,
    Verdict,
    Visit,
    WorkOrder,
    utcnow,
)
from dispatch.orders import machine
from dispatch.platform import outbox, personal
from dispatch.platform.actors import Actor
from dispatch.platform.config import load_settings
from dispatch.platform.errors import Conflict, Invalid, NotFound

log = logging.getLogger(__name__)

JOB = "place_callback_attempt"
CS = CallbackState
OPEN = frozenset({CS.SCHEDULED, CS.IN_PROGRESS, CS.HUMAN_QUEUE, CS.CLAIMED})
SYSTEM = Actor.system("callbacks")

# Risk of a claim being false, for the human queue's order (higher first).
CLAIM_PRIORITY = {"customer_not_home": 100, "customer_refused": 70, "wrong_address": 70, "status_check": 50}
DEFAULT_NOT_COMPLETED_PRIORITY = 60
COMPLETED_PRIORITY = 20
HIGH_RISK_PROVIDER_BONUS = 60

# Attempt statuses after which nothing more happens on that attempt.
FINAL = frozenset({"answered", "not_answered", "failed", "opted_out", "not_reached"})
NON_ANSWER_STATUSES = frozenset({"busy", "no-answer", "failed", "canceled", "undelivered"})
SMS_OUT_STATUSES = frozenset({"sent", "delivered"})
_SWEEP_LOCK = 0x43425357  # "CBSW"
_STATUS_CHECK_LOCK = 0x43425343  # "CBSC"


@dataclass(frozen=True)
class Prompt:
    """What the robot (or the SMS) asks, worded from the provider's claim, in local time."""

    callback_id: int
    claim: str  # "completed" or a NotCompletedReason value, or "status_check"
    provider_name: str
    visit_day: str  # e.g. "Tuesday 24 November", in the customer's city's time
    customer_first_name: str
    attempt_id: int | None = None
    channel: str | None = None
    language: str = "en"  # the customer's (their own, else their city's): what is said and understood
    is_open: bool = True  # False: the callback has its verdict (or was cancelled); nothing to ask


@dataclass(frozen=True)
class CustomerAnswer:
    """What the customer said, whatever the channel.

    happened: for a not-home claim: "confirmed" (1), "nobody_came" (2), "rescheduled" (3);
              for the other not-completed reasons: "confirmed" (1), "disputed" (2), "rescheduled" (3);
              for a completed claim: "done" or "not_done"; for a status check: "done", "not_done",
              "rescheduled". (dispatch.audit.verdicts has the table.)
    rating:   "very_satisfied" | "satisfied" | "not_satisfied" | None
    """

    happened: str
    rating: str | None = None
    note: str | None = None


# --- helpers ----------------------------------------------------------------------------------


def _cfg(settings: Mapping[str, Any] | None) -> Mapping[str, Any]:
    # Jobs pass runtime.settings(), views current_app.config; anything else reads the process's
    # configuration (defaults < TOML < DISPATCH_* environment), as the worker does; for timings
    # and channels only, so a process without the webhook signing secret may read it too.
    return settings if settings is not None else load_settings(webhooks=False)


def _tz(callback: Callback) -> str:
    return callback.work_order.customer.city.timezone


def _channels(settings: Mapping[str, Any]) -> list[str]:
    names = [c.strip() for c in str(settings["CALLBACK_CHANNELS"]).split(",") if c.strip()]
    bad = [c for c in names if c not in (Channel.VOICE, Channel.SMS)]
    if not names or bad:
        raise ValueError(
            f"CALLBACK_CHANNELS must list voice and/or sms, not {settings['CALLBACK_CHANNELS']!r}"
        )
    return names


def _channel_for(step: int, settings: Mapping[str, Any]) -> str:
    """The channel of automated attempt number `step` (0-based), cycling the configured order."""
    names = _channels(settings)
    return names[step % len(names)]


def _lock(session: Session, callback_id: int) -> Callback | None:
    # FOR UPDATE OF callbacks, and the callback's row alone: its order and provider (joined eager
    # loads elsewhere, ten tables deep) load on first use. Most callers never use them, and this
    # runs on every webhook: the joined graph was a third of a status webhook's CPU (py-spy).
    return session.scalars(
        select(Callback)
        .where(Callback.id == callback_id)
        .options(lazyload(Callback.work_order), lazyload(Callback.provider))
        .with_for_update(of=Callback)
        .execution_options(populate_existing=True)
    ).first()


def _lock_attempt(session: Session, attempt_id: int) -> ContactAttempt | None:
    """Lock an attempt, its callback first: every writer locks callback, then attempt (no deadlock)."""
    callback_id = session.scalar(select(ContactAttempt.callback_id).where(ContactAttempt.id == attempt_id))
    if callback_id is None:
        return None
    _lock(session, callback_id)
    return session.get(ContactAttempt, attempt_id, with_for_update=True, populate_existing=True)


def _note(attempt: ContactAttempt, status: str, at: datetime, **extra: Any) -> None:
    # Reassign (not append) so the JSON column is seen as changed.
    attempt.status_history = [
        *(attempt.status_history or []),
        {"status": status, "at": at.isoformat(), **extra},
    ]


def _record(
    session: Session, actor: Actor, callback: Callback, action: str, before: str | None, **data: Any
) -> None:
    trail.record(
        session,
        actor,
        "callback",
        callback.id,
        action,
        from_state=before,
        to_state=callback.state,
        data={"work_order_id": callback.work_order_id, **data},
    )


def _request_attempt(session: Session, callback: Callback, at: datetime, *, tag: str = "plan") -> None:
    """Write the outbox row that asks for this callback's next automated attempt at `at`."""
    step = callback.automated_attempts + 1
    outbox.put(
        session,
        JOB,
        {"callback_id": callback.id, "channel": callback.next_channel},
        available_at=at,
        dedupe_key=f"callback:{callback.id}:{step}:{tag}:{at:%Y%m%dT%H%M%S}",
    )
    callback.last_enqueued_at = at


def is_opted_out(session: Session, phone_e164: str, settings: Mapping[str, Any] | None = None) -> bool:
    """Whether this number asked for no more automated calls or texts (also before an erasure)."""
    # An erased customer's refusal is kept as the number's digest alone: it still holds.
    phone_hash = personal.digest(phone_e164, _cfg(settings))
    found = select(OptOut.id).where(or_(OptOut.phone == phone_e164, OptOut.phone_hash == phone_hash))
    return session.scalar(found) is not None


def _priority(claim: str) -> int:
    if claim == verdicts.COMPLETED:
        return COMPLETED_PRIORITY
    return CLAIM_PRIORITY.get(claim, DEFAULT_NOT_COMPLETED_PRIORITY)


def _latest_attempt(session: Session, callback: Callback) -> ContactAttempt | None:
    return session.scalars(
        select(ContactAttempt)
        .where(ContactAttempt.callback_id == callback.id)
        .order_by(ContactAttempt.seq.desc())
        .limit(1)
        .with_for_update()
    ).first()


def _next_seq(session: Session, callback: Callback) -> int:
    return (
        int(
            session.scalar(
                select(func.coalesce(func.max(ContactAttempt.seq), 0)).where(
                    ContactAttempt.callback_id == callback.id
                )
            )
        )
        + 1
    )


def _to_human(
    session: Session, callback: Callback, reason: str, now: datetime, settings: Mapping[str, Any]
) -> None:
    """Hand a callback to the callback team (due at the next calling time)."""
    before = callback.state
    callback.state = CS.HUMAN_QUEUE.value
    callback.escalation_reason = reason
    callback.next_channel = None
    callback.lease_holder_id = None
    callback.lease_until = None
    callback.due_at = scheduling.next_calling_time(now, _tz(callback), settings)
    session.flush()
    _record(session, SYSTEM, callback, "to_human_queue", before, reason=reason, due_at=callback.due_at)


def _next_step(
    session: Session, callback: Callback, reason: str, now: datetime, settings: Mapping[str, Any]
) -> None:
    """After an automated attempt without an answer: the next channel later, or the human queue."""
    if callback.automated_attempts >= int(settings["CALLBACK_MAX_AUTOMATED_ATTEMPTS"]):
        _to_human(
            session,
            callback,
            f"no answer after {callback.automated_attempts} automated attempts",
            now,
            settings,
        )
        return
    if is_opted_out(session, callback.phone, settings):
        _to_human(session, callback, "opted_out", now, settings)
        return
    before = callback.state
    callback.state = CS.SCHEDULED.value
    callback.next_channel = _channel_for(callback.automated_attempts, settings)
    callback.due_at = scheduling.after(now, settings["CALLBACK_RETRY_MINUTES"], _tz(callback), settings)
    _request_attempt(session, callback, callback.due_at)
    session.flush()
    _record(
        session,
        SYSTEM,
        callback,
        "retry_scheduled",
        before,
        reason=reason,
        channel=callback.next_channel,
        due_at=callback.due_at,
    )


def _attempt_not_answered(
    session: Session, attempt: ContactAttempt, reason: str, now: datetime, settings: Mapping[str, Any]
) -> None:
    """Close an automated attempt as not answered and move its callback on (if it is the current one)."""
    if attempt.status in FINAL:
        return
    attempt.status = "failed" if reason in ("failed", "undelivered", "provider_error") else "not_answered"
    attempt.ended_at = now
    _note(attempt, attempt.status, now, reason=reason)
    callback = attempt.callback  # locked by the caller (_lock_attempt)
    latest = _latest_attempt(session, callback)
    if callback.state != CS.IN_PROGRESS or latest is None or latest.id != attempt.id:
        session.flush()
        return  # the callback has moved on (answered by text, opted out, ...)
    trail.record(
        session,
        SYSTEM,
        "callback",
        callback.id,
        "attempt_not_answered",
        data={"attempt_id": attempt.id, "channel": attempt.channel, "reason": reason},
    )
    _next_step(session, callback, reason, now, settings)


# --- planning ---------------------------------------------------------------------------------


def plan_for_visit(session: Session, visit_id: int, settings: Mapping[str, Any] | None = None) -> Callback:
    """Called in the transaction that closes an order: plan its verification callback (outbox)."""
    settings = _cfg(settings)
    existing = session.scalars(select(Callback).where(Callback.visit_id == visit_id)).first()
    if existing is not None:
        return existing
    visit = session.get(Visit, visit_id)
    if visit is None:
        raise NotFound(f"visit {visit_id} not found")
    order = visit.work_order
    now = utcnow()
    claim = visit.reason or verdicts.COMPLETED
    tz = order.customer.city.timezone
    # A closing answers the day's status check: drop the ones nobody is working on.
    for check in session.scalars(
        select(Callback)
        .where(
            Callback.work_order_id == order.id,
            Callback.purpose == CallbackPurpose.STATUS_CHECK,
            Callback.state.in_([CS.SCHEDULED, CS.HUMAN_QUEUE]),
        )
        .with_for_update(of=Callback)
    ).unique():
        before = check.state
        check.state = CS.CANCELLED.value
        check.resolved_at = now
        _record(session, SYSTEM, check, "cancelled", before, reason=f"order closed (visit {visit.id})")
    return _new_callback(
        session,
        settings,
        now,
        {"visit_id": visit.id},
        work_order_id=order.id,
        visit_id=visit.id,
        purpose=CallbackPurpose.VERIFY_VISIT.value,
        claim=claim,
        claim_at=visit.visited_at,
        provider_id=visit.provider_id,
        installer_id=visit.installer_id,
        phone=order.customer.phone,
        due_at=scheduling.first_call_at(claim, max(now, visit.closed_at or now), tz, settings),
    )


def _new_callback(
    session: Session, settings: Mapping[str, Any], now: datetime, audit: dict[str, Any], **fields: Any
) -> Callback:
    """Create a scheduled callback, request its first attempt through the outbox, audit it."""
    callback = Callback(
        state=CS.SCHEDULED.value,
        priority=_priority(fields["claim"]),
        automated_attempts=0,
        human_attempts=0,
        next_channel=_channel_for(0, settings),
        created_at=now,
        updated_at=now,
        **fields,
    )
    session.add(callback)
    session.flush()
    _request_attempt(session, callback, callback.due_at)
    _record(
        session,
        SYSTEM,
        callback,
        "planned",
        None,
        **audit,
        claim=callback.claim,
        due_at=callback.due_at,
        channel=callback.next_channel,
    )
    return callback


def _advisory_lock(session: Session, key: int) -> bool:
    """A transaction-scoped lock so that two cron processes never both do the same pass."""
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: BEGIN IMMEDIATE already serialises writers
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}))


def plan_status_checks(
    session: Session, settings: Mapping[str, Any] | None = None, *, now: datetime | None = None
) -> int:
    """Booked orders still open after the end of their booked (local) day get one status check."""
    settings = _cfg(settings)
    now = now or utcnow()
    if not _advisory_lock(session, _STATUS_CHECK_LOCK):
        return 0
    candidates = session.scalars(
        select(WorkOrder).where(
            WorkOrder.state == OrderState.BOOKED,
            WorkOrder.appointment_start <= now,
            # Look back far enough to cover any time zone's end of day, not for ever.
            WorkOrder.appointment_start > now - timedelta(days=3),
        )
    ).unique()
    planned = 0
    for order in candidates:
        tz = order.customer.city.timezone
        day = scheduling.local_day(order.appointment_start, tz)
        checkpoint = max(
            scheduling.end_of_day(day, tz, settings), order.appointment_end or order.appointment_start
        )
        if now < checkpoint:
            continue
        exists = session.scalar(
            select(Callback.id).where(
                Callback.work_order_id == order.id, Callback.check_day == day.isoformat()
            )
        )
        if exists is not None:
            continue
        _new_callback(
            session,
            settings,
            now,
            {"check_day": day.isoformat()},
            work_order_id=order.id,
            purpose=CallbackPurpose.STATUS_CHECK.value,
            check_day=day.isoformat(),
            claim=verdicts.STATUS_CHECK,
            claim_at=order.appointment_start,
            provider_id=order.provider_id,
            phone=order.customer.phone,
            due_at=scheduling.next_calling_time(now, tz, settings),
        )
        planned += 1
    return planned


@dataclass(frozen=True)
class SweepReport:
    locked_out: bool = False
    requeued: int = 0
    timed_out: int = 0
    leases_expired: int = 0


def sweep(
    session: Session, settings: Mapping[str, Any] | None = None, *, now: datetime | None = None
) -> SweepReport:
    """Re-request every due callback whose job request is stale; time out silent attempts; free
    abandoned leases. Redis is not the source of truth: this finds whatever a lost job left."""
    settings = _cfg(settings)
    now = now or utcnow()
    if not _advisory_lock(session, _SWEEP_LOCK):
        return SweepReport(locked_out=True)
    stale = now - timedelta(minutes=float(settings["CALLBACK_SWEEP_STALE_MINUTES"]))

    # Attempts that never reported back: a lost call, a worker killed before it knew, an unanswered text.
    timed_out = 0
    call_limit = now - timedelta(minutes=float(settings["CALLBACK_CALL_TIMEOUT_MINUTES"]))
    sms_limit = now - timedelta(minutes=float(settings["CALLBACK_SMS_REPLY_MINUTES"]))
    silent = session.scalars(
        select(ContactAttempt.id)
        .join(Callback, Callback.id == ContactAttempt.callback_id)
        .where(
            Callback.state == CS.IN_PROGRESS,
            ContactAttempt.channel != Channel.HUMAN,
            ContactAttempt.status.not_in(FINAL | {"released"}),
            or_(
                (ContactAttempt.channel == Channel.VOICE) & (ContactAttempt.started_at < call_limit),
                (ContactAttempt.channel == Channel.SMS) & (ContactAttempt.started_at < sms_limit),
                # A text that never left (no sid) is as lost as a call that never reported.
                (ContactAttempt.provider_sid.is_(None)) & (ContactAttempt.started_at < call_limit),
            ),
        )
        .order_by(ContactAttempt.id)
    ).all()
    for candidate_id in silent:
        attempt = _lock_attempt(session, candidate_id)
        if attempt is None or attempt.status in FINAL or attempt.status == "released":
            continue  # answered or moved on while we looked
        reason = "no_reply" if attempt.channel == Channel.SMS and attempt.provider_sid else "no_final_status"
        _attempt_not_answered(session, attempt, reason, now, settings)
        timed_out += 1

    # Leases nobody renewed: back to the queue.
    expired = 0
    for callback in session.scalars(
        select(Callback)
        .where(Callback.state == CS.CLAIMED, Callback.lease_until < now)
        .with_for_update(of=Callback, skip_locked=True)
    ).unique():
        before = callback.state
        holder = callback.lease_holder_id
        callback.state = CS.HUMAN_QUEUE.value
        callback.lease_holder_id = None
        callback.lease_until = None
        _record(session, SYSTEM, callback, "lease_expired", before, agent_user_id=holder)
        expired += 1

    # Due and waiting, with no recent job request (scheduled), or released and left (in progress).
    requeued = 0
    due = session.scalars(
        select(Callback)
        .where(
            Callback.due_at <= now,
            or_(Callback.last_enqueued_at.is_(None), Callback.last_enqueued_at < stale),
            or_(
                Callback.state == CS.SCHEDULED,
                (Callback.state == CS.IN_PROGRESS)
                & Callback.id.in_(
                    select(ContactAttempt.callback_id).where(ContactAttempt.status == "released")
                ),
            ),
        )
        .order_by(Callback.due_at, Callback.id)
        .with_for_update(of=Callback, skip_locked=True)
    ).unique()
    for callback in due:
        if callback.state == CS.IN_PROGRESS:
            latest = _latest_attempt(session, callback)
            if latest is None or latest.status != "released":
                continue
        _request_attempt(session, callback, now, tag="sweep")
        requeued += 1
    session.flush()
    if requeued or timed_out or expired:
        log.info(
            "callback sweep: %s re-requested, %s timed out, %s leases expired", requeued, timed_out, expired
        )
    return SweepReport(requeued=requeued, timed_out=timed_out, leases_expired=expired)


# --- automated attempts (called by the telephony side) ----------------------------------------


def attempt_may_be_due(session: Session, callback_id: int, channel: str, now: datetime) -> bool:
    """False when start_attempt would surely start nothing (resolved, with the team, not yet due,
    another channel next); a read without locks, so that a repeated or stale job request does not
    wait for, and use up, a slot of the outbound rate limit. start_attempt still decides."""
    row = session.execute(
        select(Callback.state, Callback.next_channel, Callback.due_at).where(Callback.id == callback_id)
    ).first()
    if row is None:
        return False
    if row.state == CS.IN_PROGRESS:
        return True  # an attempt whose dial was refused for now (released) is made again
    return _due_on(row.state, row.next_channel, row.due_at, channel, now)


def _due_on(state: str, next_channel: str | None, due_at: datetime, channel: str, now: datetime) -> bool:
    """A scheduled callback whose next automated attempt is on `channel` and due by `now`."""
    return state == CS.SCHEDULED and next_channel == channel and due_at <= now


def start_attempt(
    session: Session, callback_id: int, channel: str, now: datetime, settings: Mapping[str, Any] | None = None
) -> int | None:
    """Create and return the id of the next attempt on `channel`, or None if none is due.

    None when: the callback is resolved, in the human queue, opted out, outside calling hours (it is
    then rescheduled), or the attempt this job was meant to make already exists. The caller commits
    before dialling. A released attempt (nothing was dialled) on the same channel is returned again.
    """
    settings = _cfg(settings)
    callback = _lock(session, callback_id)
    if callback is None:
        return None
    if callback.state == CS.IN_PROGRESS:
        latest = _latest_attempt(session, callback)
        if latest is not None and latest.status == "released" and latest.channel == channel:
            latest.status = "started"
            latest.started_at = now
            _note(latest, "restarted", now)
            session.flush()
            return latest.id
        return None  # an attempt is already out: never a second one at the same time
    if not _due_on(callback.state, callback.next_channel, callback.due_at, channel, now):
        return None  # done, with the team, or a stale/duplicate request: its own request is queued
    if callback.purpose == CallbackPurpose.STATUS_CHECK and callback.work_order.state != OrderState.BOOKED:
        before = callback.state
        callback.state = CS.CANCELLED.value
        callback.resolved_at = now
        _record(
            session, SYSTEM, callback, "cancelled", before, reason=f"order is {callback.work_order.state}"
        )
        return None
    if is_opted_out(session, callback.phone, settings):
        _to_human(session, callback, "opted_out", now, settings)
        return None
    tz = _tz(callback)
    if not scheduling.in_calling_hours(now, tz, settings):
        before = callback.state
        callback.due_at = scheduling.next_calling_time(now, tz, settings)
        _request_attempt(session, callback, callback.due_at)
        session.flush()
        _record(session, SYSTEM, callback, "deferred_to_calling_hours", before, due_at=callback.due_at)
        return None
    customer = callback.work_order.customer
    attempt = ContactAttempt(
        callback_id=callback.id,
        seq=_next_seq(session, callback),
        channel=channel,
        status="started",
        to_number=callback.phone,
        started_at=now,
        status_history=[],
        heard=[],
        language=customer.language or customer.city.language,
    )
    _note(attempt, "started", now)
    session.add(attempt)
    before = callback.state
    callback.state = CS.IN_PROGRESS.value
    callback.automated_attempts += 1
    session.flush()
    _record(
        session,
        SYSTEM,
        callback,
        "attempt_started",
        before,
        attempt_id=attempt.id,
        channel=channel,
        seq=attempt.seq,
    )
    return attempt.id


def dial_target(session: Session, attempt_id: int) -> tuple[str, Prompt]:
    """The number to dial or text for an attempt, and what to ask."""
    row = session.execute(_ATTEMPT_PROMPT.where(ContactAttempt.id == attempt_id)).first()
    if row is None:
        raise NotFound(f"attempt {attempt_id} not found")
    return row.to_number, _prompt_of(row)


def release_attempt(session: Session, attempt_id: int, error: str) -> None:
    """Nothing was dialled (the provider refused the request): the next start_attempt returns it again."""
    attempt = _lock_attempt(session, attempt_id)
    if attempt is None or attempt.status != "started" or attempt.provider_sid is not None:
        return
    attempt.status = "released"
    _note(attempt, "released", utcnow(), error=error[:300])
    session.flush()


def attempt_failed(
    session: Session, attempt_id: int, error: str, settings: Mapping[str, Any] | None = None
) -> None:
    """The provider refused for good (invalid number, ...): like a 'failed' status callback."""
    attempt = _lock_attempt(session, attempt_id)
    if attempt is None:
        return
    _attempt_not_answered(session, attempt, "provider_error", utcnow(), _cfg(settings))
    if attempt.status_history and attempt.status_history[-1].get("status") == "failed":
        attempt.status_history = [
            *attempt.status_history[:-1],
            {**attempt.status_history[-1], "error": error[:300]},
        ]
    session.flush()


def attempt_placed(session: Session, attempt_id: int, provider_sid: str) -> None:
    """Record the CallSid/MessageSid Twilio (or the simulator) gave an attempt (idempotent)."""
    # Every status and voice webhook links its sid again; once linked, a sid never changes, so
    # the usual case needs no lock (a plain read of one column).
    known = session.execute(
        select(ContactAttempt.provider_sid).where(ContactAttempt.id == attempt_id)
    ).first()
    if known is not None and known.provider_sid == provider_sid:
        return
    attempt = _lock_attempt(session, attempt_id)
    if attempt is None:
        raise NotFound(f"attempt {attempt_id} not found")
    if attempt.provider_sid == provider_sid:
        return
    if attempt.provider_sid is not None:
        log.warning(
            "attempt %s already has sid %s; ignoring %s", attempt.id, attempt.provider_sid, provider_sid
        )
        return
    now = utcnow()
    attempt.provider_sid = provider_sid
    attempt.placed_at = now
    if attempt.status in ("started", "released"):
        attempt.status = "placed"
    _note(attempt, "placed", now, sid=provider_sid)
    session.flush()


# SQL text: SQLAlchemy does not cache its dialect-specific ON CONFLICT inserts, and this runs on
# every status webhook (the same statement on PostgreSQL and SQLite 3.35+).
_FIRST_STATUS = text(
    "INSERT INTO attempt_status_events (provider_sid, status, received_at)"
    " VALUES (:sid, :status, :at) ON CONFLICT (provider_sid, status) DO NOTHING RETURNING id"
).bindparams(bindparam("at", type_=UTCDateTime()))


def _first_status(session: Session, provider_sid: str, status: str) -> bool:
    """Record (sid, status); False if it was already recorded (a repeated delivery)."""
    result = session.execute(_FIRST_STATUS, {"sid": provider_sid, "status": status, "at": utcnow()})
    return result.first() is not None


def attempt_status(
    session: Session,
    provider_sid: str,
    status: str,
    answered_by: str | None,
    settings: Mapping[str, Any] | None = None,
) -> None:
    """A status callback: idempotent by (sid, status); a non-answer escalates to the next step."""
    if not _first_status(session, provider_sid, status):
        return
    attempt_id = session.scalar(select(ContactAttempt.id).where(ContactAttempt.provider_sid == provider_sid))
    attempt = _lock_attempt(session, attempt_id) if attempt_id is not None else None
    if attempt is None:
        log.warning("status %s for unknown sid %s", status, provider_sid)
        return
    now = utcnow()
    _note(attempt, status, now, **({"answered_by": answered_by} if answered_by else {}))
    if answered_by:
        attempt.answered_by = answered_by
    if attempt.status in FINAL:
        session.flush()
        return
    machine = bool(answered_by) and (answered_by.startswith("machine") or answered_by == "fax")
    if status in NON_ANSWER_STATUSES:
        _attempt_not_answered(session, attempt, status, now, _cfg(settings))
    elif machine:
        _attempt_not_answered(session, attempt, "machine", now, _cfg(settings))
    elif status == "completed" and attempt.channel == Channel.VOICE:
        # Picked up and hung up without choosing: no answer to go on.
        _attempt_not_answered(session, attempt, "hung_up_without_answer", now, _cfg(settings))
    elif attempt.channel == Channel.SMS and status in SMS_OUT_STATUSES:
        attempt.status = "awaiting_reply"
    elif status not in ("received", "completed"):
        attempt.status = status.replace("-", "_")[:24]
    session.flush()


_CALLBACK_PROVIDER = aliased(Provider)
_ORDER_PROVIDER = aliased(Provider)
# One query for what the robot says on an attempt (and the number it calls): the voice webhook
# and every key press ask it, so it reads the few columns it needs instead of loading the callback
# and its order's graph.
_ATTEMPT_PROMPT = (
    select(
        ContactAttempt.id,
        ContactAttempt.channel,
        ContactAttempt.to_number,
        Callback.id.label("callback_id"),
        Callback.state,
        Callback.claim,
        Callback.claim_at,
        func.coalesce(_CALLBACK_PROVIDER.name, _ORDER_PROVIDER.name).label("provider_name"),
        Customer.name.label("customer_name"),
        func.coalesce(Customer.language, City.language).label("language"),
        City.timezone,
    )
    .join(Callback, Callback.id == ContactAttempt.callback_id)
    .join(WorkOrder, WorkOrder.id == Callback.work_order_id)
    .join(Customer, Customer.id == WorkOrder.customer_id)
    .join(City, City.id == Customer.city_id)
    .outerjoin(_CALLBACK_PROVIDER, _CALLBACK_PROVIDER.id == Callback.provider_id)
    .outerjoin(_ORDER_PROVIDER, _ORDER_PROVIDER.id == WorkOrder.provider_id)
)


def _prompt_of(row) -> Prompt:
    """The Prompt of a row of _ATTEMPT_PROMPT."""
    return Prompt(
        callback_id=row.callback_id,
        claim=row.claim,
        provider_name=row.provider_name or "our service partner",
        visit_day=scheduling.spoken_day(row.claim_at, row.timezone, row.language),
        customer_first_name=(row.customer_name.split() or [""])[0],
        attempt_id=row.id,
        channel=row.channel,
        language=row.language,
        is_open=row.state in OPEN,
    )


def prompt_for_attempt(session: Session, provider_sid: str, *, include_closed: bool = False) -> Prompt | None:
    """What to ask on this call or text (None if unknown, or no longer open unless include_closed)."""
    row = session.execute(_ATTEMPT_PROMPT.where(ContactAttempt.provider_sid == provider_sid)).first()
    if row is None or (row.state not in OPEN and not include_closed):
        return None
    return _prompt_of(row)


def sms_reply_target(session: Session, phone_e164: str) -> Prompt | None:
    """The latest text to this number whose callback still waits for an answer (for an inbound SMS)."""
    row = session.execute(
        _ATTEMPT_PROMPT.where(
            ContactAttempt.channel == Channel.SMS,
            ContactAttempt.to_number == phone_e164,
            ContactAttempt.provider_sid.is_not(None),
            ContactAttempt.status.not_in(["failed", "opted_out"]),
            Callback.state.in_(list(OPEN)),
        )
        .order_by(ContactAttempt.started_at.desc(), ContactAttempt.id.desc())
        .limit(1)
    ).first()
    return _prompt_of(row) if row else None


# --- answers and verdicts ---------------------------------------------------------------------


def _human_attempt(
    session: Session, callback: Callback, actor: Actor, now: datetime, **fields: Any
) -> ContactAttempt:
    """A callback-team agent's call to the customer, as the callback's next attempt."""
    attempt = ContactAttempt(
        callback_id=callback.id,
        seq=_next_seq(session, callback),
        channel=Channel.HUMAN.value,
        to_number=callback.phone,
        agent_user_id=actor.user_id,
        started_at=now,
        **fields,
    )
    session.add(attempt)
    return attempt


def record_answer(
    session: Session,
    callback_id: int,
    answer: CustomerAnswer,
    *,
    channel: str,
    actor: Actor,
    attempt_id: int | None = None,
    heard: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> str:
    """Store the customer's answer, reach the verdict, apply it (complaint, reopen, verify); returns it.

    `heard` is what the robot heard and how it read it, kept with the attempt as evidence. A second
    answer to a resolved callback changes nothing and returns the first verdict.
    """
    settings = _cfg(settings)
    callback = _lock(session, callback_id)
    if callback is None:
        raise NotFound(f"callback {callback_id} not found")
    if callback.state == CS.RESOLVED:
        return str(callback.verdict)
    if callback.state == CS.CANCELLED:
        raise Conflict(f"callback {callback.id} was cancelled")
    try:
        verdict = verdicts.decide(callback.claim, answer.happened)
    except verdicts.UnknownAnswer as exc:
        raise Invalid.field("happened", str(exc)) from None
    if answer.rating is not None and answer.rating not in Rating.__members__.values():
        raise Invalid.field("rating", f"unknown rating {answer.rating!r}")
    now = utcnow()
    attempt = None
    if attempt_id is not None:
        attempt = _lock_attempt(session, attempt_id)
        if attempt is None or attempt.callback_id != callback.id:
            raise Invalid.field("attempt_id", "is not an attempt of this callback")
    elif channel == Channel.HUMAN:
        attempt = _human_attempt(session, callback, actor, now, status="started", status_history=[])
    if attempt is not None:
        attempt.status = "answered"
        attempt.ended_at = attempt.ended_at or now
        attempt.answer_happened = answer.happened
        attempt.answer_rating = answer.rating
        if answer.note:
            attempt.answer_text = answer.note[:2000]
        if heard:
            _keep_heard(attempt, heard)
        _note(attempt, "answered", now, happened=answer.happened)
    return _resolve(
        session,
        callback,
        verdict,
        actor,
        now,
        settings,
        answer=answer,
        channel=channel,
        attempt_id=attempt.id if attempt is not None and attempt.id else None,
    )


def _keep_heard(attempt: ContactAttempt, heard: Mapping[str, Any]) -> None:
    # Reassign (not append) so the JSON column is seen as changed; the customer's words stay on
    # this row (erasable), never in the audit trail.
    entry = {**heard, "at": utcnow().isoformat()}
    if isinstance(entry.get("text"), str):
        entry["text"] = entry["text"][:500]
    attempt.heard = [*(attempt.heard or []), entry]
    if attempt.language is None and heard.get("language"):
        attempt.language = str(heard["language"])


def hear(session: Session, attempt_id: int, heard: Mapping[str, Any]) -> None:
    """Keep one answer heard on an attempt that goes on (the claim before the rating, a first try)."""
    attempt = _lock_attempt(session, attempt_id)
    if attempt is None:
        raise NotFound(f"attempt {attempt_id} not found")
    _keep_heard(attempt, heard)
    session.flush()


def answer_unclear(
    session: Session,
    attempt_id: int,
    heard: Mapping[str, Any],
    *,
    final: bool | None = None,
    settings: Mapping[str, Any] | None = None,
) -> str | None:
    """An answer that could not be read: keep it; on the last try, move the callback on.

    Unclear is never a verdict. The customer is asked again once (by keys); the second unclear
    answer on the same attempt and question (or `final`) closes the attempt as not answered, and
    the callback goes on its ladder (next channel, or the callback team). Returns what comes next,
    "voice" | "sms" | "human", once it moved on; None while the question is asked again.
    """
    attempt = _lock_attempt(session, attempt_id)
    if attempt is None:
        raise NotFound(f"attempt {attempt_id} not found")
    _keep_heard(attempt, heard)
    if final is None:
        same = [
            h for h in attempt.heard if h.get("question") == heard.get("question") and not h.get("result")
        ]
        final = len(same) >= 2
    if not final:
        session.flush()
        return None
    now = utcnow()
    _attempt_not_answered(session, attempt, "answer_unclear", now, _cfg(settings))
    session.flush()
    return next_contact(attempt.callback)


def next_contact(callback: Callback) -> str:
    """Who contacts the customer next: "voice" or "sms" (the robot again), or "human"."""
    if callback.state == CS.SCHEDULED and callback.next_channel:
        return str(callback.next_channel)
    return "human"


def _resolve(
    session: Session,
    callback: Callback,
    verdict: Verdict,
    actor: Actor,
    now: datetime,
    settings: Mapping[str, Any],
    *,
    answer: CustomerAnswer | None,
    channel: str,
    attempt_id: int | None,
) -> str:
    before = callback.state
    callback.state = CS.RESOLVED.value
    callback.verdict = verdict.value
    callback.rating = answer.rating if answer else None
    callback.answer_happened = answer.happened if answer else None
    callback.answer_note = answer.note if answer else callback.answer_note
    callback.answer_channel = channel
    callback.resolved_at = now
    callback.lease_holder_id = None
    callback.lease_until = None
    callback.next_channel = None
    session.flush()
    _record(
        session,
        actor,
        callback,
        "verdict",
        before,
        verdict=verdict.value,
        claim=callback.claim,
        happened=callback.answer_happened,
        rating=callback.rating,
        channel=channel,
        attempt_id=attempt_id,
        provider_id=callback.provider_id,
    )
    _apply(session, callback, verdict, actor, now, settings)
    return verdict.value


def _apply(
    session: Session,
    callback: Callback,
    verdict: Verdict,
    actor: Actor,
    now: datetime,
    settings: Mapping[str, Any],
) -> None:
    """What a verdict does to the order, the provider and the complaints."""
    order = (
        session.scalars(
            select(WorkOrder)
            .where(WorkOrder.id == callback.work_order_id)
            .with_for_update(of=WorkOrder)
            .execution_options(populate_existing=True)
        )
        .unique()
        .one()
    )
    state = OrderState(order.state)
    data = {"callback_id": callback.id, "verdict": verdict.value}
    if verdict == Verdict.CONFIRMED:
        if callback.purpose == CallbackPurpose.VERIFY_VISIT and state == OrderState.CLOSED_COMPLETED:
            machine.transition(session, order, "verify", OrderState.VERIFIED, actor, data)
    elif verdict == Verdict.CONTRADICTED:
        summary = f"{_claim_text(callback)}; the customer says: {callback.answer_happened}"
        complaint = complaints.open_for_callback(
            session, callback, actor, settings, summary=summary, note=callback.answer_note, now=now
        )
        if state in machine.TRANSITIONS["reopen"][0]:
            machine.transition(
                session,
                order,
                "reopen",
                machine.resting_state(order),
                actor,
                {**data, "complaint_id": complaint.id},
            )
    elif verdict == Verdict.CUSTOMER_RESCHEDULED:
        # The customer still wants the service: the order goes back to the open work.
        if state in machine.TRANSITIONS["reopen"][0]:
            machine.transition(session, order, "reopen", machine.resting_state(order), actor, data)
    # UNREACHABLE: the claim stays unverified; it never counts as a confirmation.


def _claim_text(callback: Callback) -> str:
    provider = callback.provider.code if callback.provider else "the provider"
    day = scheduling.spoken_day(callback.claim_at, _tz(callback))
    if callback.claim == verdicts.STATUS_CHECK:
        return f"order booked for {day} left open by {provider}"
    return f"{provider} claimed '{callback.claim}' on {day}"


# --- opt-out ----------------------------------------------------------------------------------


def opt_out(
    session: Session, phone_e164: str, source: str, settings: Mapping[str, Any] | None = None
) -> None:
    """The number said STOP: no more calls or texts; its open callbacks go to the human queue."""
    settings = _cfg(settings)
    now = utcnow()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    phone_hash = personal.digest(phone_e164, settings)
    # The same number said STOP before its customer was erased: the refusal gets its number back.
    session.execute(
        update(OptOut).where(OptOut.phone_hash == phone_hash, OptOut.phone.is_(None)).values(phone=phone_e164)
    )
    row = session.execute(
        insert(OptOut)
        .values(phone=phone_e164, phone_hash=phone_hash, source=source[:40], created_at=now)
        .on_conflict_do_nothing()
        .returning(OptOut.id)
    ).first()
    if row is not None:
        # The trail can never be erased: the number only as its keyed digest (personal.py).
        trail.record(
            session, SYSTEM, "opt_out", row.id, "opted_out", data={"phone_hash": phone_hash, "source": source}
        )
    for callback in session.scalars(
        select(Callback)
        .where(Callback.phone == phone_e164, Callback.state.in_([CS.SCHEDULED, CS.IN_PROGRESS]))
        .order_by(Callback.id)
        .with_for_update(of=Callback)
    ).unique():
        latest = _latest_attempt(session, callback)
        if latest is not None and latest.status not in FINAL:
            latest.status = "opted_out"
            latest.ended_at = now
            _note(latest, "opted_out", now, source=source)
        _to_human(session, callback, "opted_out", now, settings)


def opt_in(session: Session, phone_e164: str, source: str, settings: Mapping[str, Any] | None = None) -> None:
    """START / UNSTOP: automated messages to this number are allowed again (nothing else changes)."""
    phone_hash = personal.digest(phone_e164, _cfg(settings))
    row = session.scalars(
        select(OptOut)
        .where(or_(OptOut.phone == phone_e164, OptOut.phone_hash == phone_hash))
        .with_for_update()
    ).first()
    if row is None:
        return
    trail.record(
        session, SYSTEM, "opt_out", row.id, "opted_in", data={"phone_hash": phone_hash, "source": source}
    )
    session.delete(row)
    session.flush()


# --- the callback team ------------------------------------------------------------------------


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
