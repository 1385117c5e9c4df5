"""Verification callbacks: every closed (or overdue) order is checked with the customer.

INTERFACE CONTRACT (being implemented; see issue 3). Two parts of the code meet here:
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
- opt_in(session, phone_e164, source) -> None for START / UNSTOP (undo opt_out; nothing else).
- CustomerAnswer.happened for the other not-completed reasons (parts_missing, site_not_ready, ...):
  "confirmed" (1) | "disputed" (2) | "rescheduled" (3). Completed: "done" (1) | "not_done" (2),
  rating asked only after "done". status_check: "done" (1) | "not_done" (2) | "rescheduled" (3).
- Timings in tests and the demo must run in seconds: please let the CALLBACK_*_MINUTES settings
  take fractional values from the environment (e.g. DISPATCH_CALLBACK_RETRY_MINUTES=0.05; the
  config loader int()s keys whose default is an int, so make those defaults floats and use
  timedelta(minutes=float(v))), and let CALLING_HOURS_END be "24:00" (all day) for the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from dispatch.actors import Actor


@dataclass(frozen=True)
class Prompt:
    """What the robot (or the SMS) asks, worded from the provider's claim, in local time."""

    callback_id: int
    claim: str  # "completed" or a NotCompletedReason value, or "status_check"
    provider_name: str
    visit_day: str  # e.g. "Tuesday 24 November", in the customer's city's time
    customer_first_name: str


@dataclass(frozen=True)
class CustomerAnswer:
    """What the customer said, whatever the channel.

    happened: for a not-home claim: "confirmed" (1), "nobody_came" (2), "rescheduled" (3);
              for a completed claim: "done" or "not_done"; for a status check: "done", "not_done",
              "rescheduled".
    rating:   "very_satisfied" | "satisfied" | "not_satisfied" | None
    """

    happened: str
    rating: str | None = None
    note: str | None = None


def plan_for_visit(session: Session, visit_id: int, settings: dict) -> None:
    """Called in the transaction that closes an order: plan its verification callback (outbox)."""
    raise NotImplementedError


def start_attempt(session: Session, callback_id: int, channel: str, now: datetime) -> int | None:
    """Create and return the id of the next attempt on `channel`, or None if none is due.

    None when: the callback is resolved, in the human queue, opted out, outside calling hours (it is
    then rescheduled), or the attempt this job was meant to make already exists. The caller commits
    before dialling.
    """
    raise NotImplementedError


def attempt_placed(session: Session, attempt_id: int, provider_sid: str) -> None:
    """Record the CallSid/MessageSid Twilio (or the simulator) gave an attempt."""
    raise NotImplementedError


def attempt_status(session: Session, provider_sid: str, status: str, answered_by: str | None) -> None:
    """A status callback: idempotent by (sid, status); a non-answer escalates to the next step."""
    raise NotImplementedError


def prompt_for_attempt(session: Session, provider_sid: str) -> Prompt | None:
    """What to ask on this call or text (None if the callback is no longer open)."""
    raise NotImplementedError


def record_answer(
    session: Session, callback_id: int, answer: CustomerAnswer, *, channel: str, actor: Actor,
    attempt_id: int | None = None,
) -> str:
    """Store the customer's answer, reach the verdict, apply it (complaint, reopen, verify); returns it."""
    raise NotImplementedError


def opt_out(session: Session, phone_e164: str, source: str) -> None:
    """The number said STOP: no more calls or texts; its open callbacks go to the human queue."""
    raise NotImplementedError
