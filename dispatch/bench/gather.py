"""Live calls for the Twilio gather-webhook bench, and the signed posts Twilio would send for them.

A replayed gather for a finished call only says goodbye, so each request must belong to a distinct
call still in progress: a verification callback whose voice attempt was started, dialled (CallSid
recorded) and answered by a person, exactly as the place-call job and the status webhook leave it.
"""

from __future__ import annotations

import multiprocessing
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from dispatch.audit import callbacks
from dispatch.audit.trail import make_session_factory
from dispatch.models import Callback, CallbackPurpose, CallbackState, ContactAttempt, utcnow
from dispatch.platform.config import DEFAULTS
from dispatch.platform.db import make_engine
from dispatch.telephony import twiml, webhook_url

# A made-up account: the server never calls Twilio during the gather rows (TWILIO_API_BASE_URL
# points at a closed local port), but the twilio backend refuses to start without these.
ACCOUNT_SID = "AC" + "b" * 32
FROM_NUMBER = "+12175550100"
# The URL Twilio would reach the service on behind a proxy; the server validates signatures over
# it, not over the 127.0.0.1 address the bench connects to.
PUBLIC_BASE_URL = "https://dispatch.bench.invalid"
# The measured step: the rating key after "the work was done", the press that records the answer.
QUESTION, HAPPENED, DIGITS = "rating", "done", "1"
LABEL = "Twilio gather webhook (rating key: records answer + verdict)"


@dataclass(frozen=True)
class LiveCall:
    """One answered call waiting for the customer's key press."""

    attempt_id: int
    sid: str
    to: str


def server_env(token: str) -> dict[str, str]:
    """DISPATCH_* settings of a server taking Twilio's webhooks signed with `token`."""
    return {
        "DISPATCH_TELEPHONY_BACKEND": "twilio",
        "DISPATCH_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "DISPATCH_TWILIO_AUTH_TOKEN": token,
        "DISPATCH_TWILIO_FROM_NUMBER": FROM_NUMBER,
        "DISPATCH_TWILIO_API_BASE_URL": "http://127.0.0.1:9",
        "DISPATCH_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        # One bench address stands for Twilio's many: lift the per-address cap, keep its check.
        "DISPATCH_WEBHOOK_RATE_LIMIT": "100000000/minute",
    }


def domain_settings(token: str) -> dict[str, Any]:
    """The same settings for the domain calls made in the bench process (no file, no environment)."""
    env = server_env(token)
    settings = {k.removeprefix("DISPATCH_"): v for k, v in env.items()}
    return {**DEFAULTS, **settings, "CALLING_HOURS_START": "00:00", "CALLING_HOURS_END": "24:00"}


def waiting_callbacks(session: Session, limit: int) -> list[tuple[int, str]]:
    """(id, phone) of verification callbacks of completed visits not attempted yet (what closings planned)."""
    rows = session.execute(
        select(Callback.id, Callback.phone)
        .where(
            Callback.state == CallbackState.SCHEDULED.value,
            Callback.purpose == CallbackPurpose.VERIFY_VISIT.value,
            Callback.claim == "completed",
            Callback.automated_attempts == 0,
        )
        .order_by(Callback.id)
        .limit(limit)
    )
    return [(row.id, row.phone) for row in rows]


def seed_live_calls(
    database_url: str, settings: dict[str, Any], count: int, *, processes: int = 2
) -> list[LiveCall]:
    """Put up to `count` waiting callbacks on an answered call: what the job and Twilio would do.

    Set-up, not measured: split over `processes` forked processes (the server idles meanwhile).
    """
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        waiting = waiting_callbacks(session, count)
    engine.dispose()
    shares = [waiting[i::processes] for i in range(processes)]
    if processes == 1 or len(waiting) < 200:
        return _seed(database_url, settings, waiting)
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
        parts = pool.map(_seed, [database_url] * processes, [settings] * processes, shares)
        return [call for part in parts for call in part]


def _seed(database_url: str, settings: dict[str, Any], waiting: list[tuple[int, str]]) -> list[LiveCall]:
    engine = make_engine(database_url)
    calls: list[LiveCall] = []
    try:
        with make_session_factory(engine)() as session:
            for start in range(0, len(waiting), 100):
                chunk = waiting[start : start + 100]
                now = utcnow()
                # Planned hours ahead (CALLBACK_DELAY_COMPLETED_MINUTES): their time has come. Only
                # the due time moves; the attempts below go through the domain like the job's.
                session.execute(
                    update(Callback).where(Callback.id.in_([c for c, _ in chunk])).values(due_at=now)
                )
                calls += [_dial(session, callback_id, phone, now, settings) for callback_id, phone in chunk]
                session.commit()
    finally:
        engine.dispose()
    return calls


def _dial(
    session: Session, callback_id: int, phone: str, now: datetime, settings: dict[str, Any]
) -> LiveCall:
    attempt_id = callbacks.start_attempt(session, callback_id, "voice", now, settings)
    if attempt_id is None:
        raise RuntimeError(f"callback {callback_id}: no voice attempt could be started")
    sid = "CA" + uuid.uuid4().hex
    callbacks.attempt_placed(session, attempt_id, sid)
    # Twilio's "answered" status callback: a person on the line.
    callbacks.attempt_status(session, sid, "in-progress", "human", settings)
    return LiveCall(attempt_id, sid, phone)


def gather_form(call: LiveCall, digits: str = DIGITS) -> dict[str, str]:
    """The form Twilio posts to a <Gather> action when a key is pressed on an outbound call."""
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": call.sid,
        "CallStatus": "in-progress",
        "Called": call.to,
        "CalledCountry": "US",
        "Caller": FROM_NUMBER,
        "CallerCountry": "US",
        "Digits": digits,
        "Direction": "outbound-api",
        "FinishedOnKey": "",
        "From": FROM_NUMBER,
        "FromCountry": "US",
        "To": call.to,
        "ToCountry": "US",
        "msg": "Gather End",
    }


def gather_request(call: LiveCall, token: str) -> tuple[str, str, dict[str, str], str]:
    """(method, path, headers, body) of the measured key press, signed like Twilio signs it."""
    url = twiml.action_url(
        webhook_url({"PUBLIC_BASE_URL": PUBLIC_BASE_URL}, "gather"), call.attempt_id, QUESTION, 0, HAPPENED
    )
    form = gather_form(call)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": RequestValidator(token).compute_signature(url, form),
    }
    return "POST", url.removeprefix(PUBLIC_BASE_URL), headers, urlencode(form)


def answered(session: Session, calls: list[LiveCall]) -> int:
    """How many of these calls' callbacks now carry a verdict reached by phone."""
    ids = [c.attempt_id for c in calls]
    count = session.scalar(
        select(func.count())
        .select_from(ContactAttempt)
        .join(Callback, Callback.id == ContactAttempt.callback_id)
        .where(
            ContactAttempt.id.in_(ids),
            ContactAttempt.status == "answered",
            Callback.state == CallbackState.RESOLVED.value,
        )
    )
    return int(count or 0)
