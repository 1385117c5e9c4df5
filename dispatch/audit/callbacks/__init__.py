"""Verification callbacks: every closed (or overdue) order is checked with the customer.

INTERFACE CONTRACT (implemented; see issue 3). Two parts of the code meet here:
- the callbacks domain (this package, verdicts.py, complaints.py): planning, escalation, answers,
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
  (dispatch/api/callbacks.py). Verdict effects live in effects._apply: confirmed completion -> verified;
  contradicted -> complaint (complaints.py) + order reopened + provider under review;
  customer_rescheduled -> order reopened; unreachable -> nothing (never a confirmation).

WHERE EACH PART LIVES (every public function is re-exported here: callers write callbacks.X):
  planning.py    a visit's callback planned in the closing transaction
  sweep.py       status checks for orders left open, and the sweep (lost jobs, silent attempts, leases)
  attempts.py    automated attempts and Twilio's status events
  prompts.py     what is asked on an attempt; which open text an inbound SMS answers
  escalation.py  the ladder: next channel later, or the callback team
  answers.py     the customer's answer -> verdict, recorded once
  effects.py     what a verdict does to the order, the provider and the complaints
  heard.py       what the robot heard; unclear answers
  optout.py      STOP / START
  queue.py       the callback team's queue, leases (claim_next: the Next key), not reached, live list
  common.py      locks, audit records, outbox requests, the hand-over to the team
"""

from __future__ import annotations

from dispatch.audit.callbacks.answers import CustomerAnswer, record_answer
from dispatch.audit.callbacks.attempts import (
    NON_ANSWER_STATUSES,
    SMS_OUT_STATUSES,
    attempt_failed,
    attempt_may_be_due,
    attempt_placed,
    attempt_status,
    dial_target,
    release_attempt,
    start_attempt,
)
from dispatch.audit.callbacks.common import CS, FINAL, JOB, OPEN, SYSTEM
from dispatch.audit.callbacks.escalation import next_contact
from dispatch.audit.callbacks.heard import answer_unclear, hear
from dispatch.audit.callbacks.optout import is_opted_out, opt_in, opt_out
from dispatch.audit.callbacks.planning import (
    CLAIM_PRIORITY,
    COMPLETED_PRIORITY,
    DEFAULT_NOT_COMPLETED_PRIORITY,
    plan_for_visit,
)
from dispatch.audit.callbacks.prompts import Prompt, prompt_for_attempt, sms_reply_target
from dispatch.audit.callbacks.queue import (
    CALL_LATER,
    CALL_LATER_MAX_DAYS,
    HIGH_RISK_PROVIDER_BONUS,
    NO_ANSWER,
    NOT_REACHED_REASONS,
    WRONG_NUMBER,
    Board,
    BoardRow,
    QueueItem,
    agent_calls,
    answer_by_agent,
    claim,
    claim_next,
    get_callback,
    human_queue,
    my_lease,
    not_reached,
    provider_contradiction_rates,
    release,
    team_board,
)
from dispatch.audit.callbacks.sweep import SweepReport, plan_status_checks, sweep

__all__ = [
    "Board",
    "BoardRow",
    "CALL_LATER",
    "CALL_LATER_MAX_DAYS",
    "CLAIM_PRIORITY",
    "COMPLETED_PRIORITY",
    "CS",
    "CustomerAnswer",
    "DEFAULT_NOT_COMPLETED_PRIORITY",
    "FINAL",
    "HIGH_RISK_PROVIDER_BONUS",
    "JOB",
    "NOT_REACHED_REASONS",
    "NO_ANSWER",
    "NON_ANSWER_STATUSES",
    "OPEN",
    "Prompt",
    "QueueItem",
    "SMS_OUT_STATUSES",
    "SYSTEM",
    "SweepReport",
    "WRONG_NUMBER",
    "agent_calls",
    "answer_by_agent",
    "answer_unclear",
    "attempt_failed",
    "attempt_may_be_due",
    "attempt_placed",
    "attempt_status",
    "claim",
    "claim_next",
    "dial_target",
    "get_callback",
    "hear",
    "human_queue",
    "is_opted_out",
    "my_lease",
    "next_contact",
    "not_reached",
    "opt_in",
    "opt_out",
    "plan_for_visit",
    "plan_status_checks",
    "prompt_for_attempt",
    "provider_contradiction_rates",
    "record_answer",
    "release",
    "release_attempt",
    "sms_reply_target",
    "start_attempt",
    "sweep",
    "team_board",
]
