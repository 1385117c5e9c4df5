"""Jobs that call and text customers for verification callbacks, and the simulated customers.

`place_callback_attempt` is requested through the outbox by the callbacks domain. It never dials
the same attempt twice: the attempt is created and COMMITTED before anything is dialled, and a
second run (RQ retry, relay re-send, a worker killed mid-job) finds it started and does nothing.
Only when nothing can have been sent (connection refused, Twilio 429/503) is the attempt released,
so that RQ's Retry dials it once later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from dispatch.audit import callbacks
from dispatch.jobs.runtime import job_session, redis_connection, session_factory, settings
from dispatch.models import utcnow
from dispatch.platform.phones import masked
from dispatch.platform.ratelimit import SharedRateLimit
from dispatch.telephony import (
    Gateway,
    RejectedError,
    Schedule,
    TransientError,
    UncertainError,
    make_gateway,
    rate_limit_key,
    twiml,
)

log = logging.getLogger(__name__)

# How long a job waits for a slot in the shared outbound rate limit before giving up (retried).
SLOT_TIMEOUT_SECONDS = 120.0


class NoSlot(TransientError):
    """No slot in the shared outbound rate limit came in time."""


def gateway(schedule: Schedule | None = None) -> Gateway:
    """This installation's telephony gateway (the simulator hands its customers to `schedule`)."""
    return make_gateway(settings(), schedule=schedule)


def outbound_limit(channel: str) -> SharedRateLimit:
    """The outbound rate limit of a channel, shared by every worker through Redis."""
    s = settings()
    per_second = s["OUTBOUND_CALLS_PER_SECOND"] if channel == "voice" else s["OUTBOUND_SMS_PER_SECOND"]
    return SharedRateLimit(redis_connection(), rate_limit_key(s, channel), float(per_second))


def place_callback_attempt(callback_id: int, channel: str = "voice") -> str:
    """Make the callback's next automated attempt on `channel`: at most one dial per attempt."""
    if channel not in ("voice", "sms"):
        raise ValueError(f"unknown channel {channel!r}")
    # A repeated or stale request (relay re-sent, sweep, RQ retry) usually has nothing to do: it
    # must not take a slot of the outbound rate limit (1 call/s on a default Twilio account). A
    # plain read: this job's outbox row is marked done only with the attempt's commit, or here.
    with session_factory()() as session:
        due = callbacks.attempt_may_be_due(session, callback_id, channel, utcnow())
    if not due:
        with job_session():  # nothing to do: the request is done (its outbox row too)
            pass
        log.info("callback %s: no %s attempt due", callback_id, channel)
        return "nothing due"
    # Take the rate-limit slot before starting: a worker killed while waiting leaves nothing started.
    if outbound_limit(channel).acquire(timeout=SLOT_TIMEOUT_SECONDS) is None:
        raise NoSlot(f"no {channel} slot within {SLOT_TIMEOUT_SECONDS:.0f}s")
    with job_session() as session:
        attempt_id = callbacks.start_attempt(session, callback_id, channel, utcnow(), settings())
        target = callbacks.dial_target(session, attempt_id) if attempt_id is not None else None
    # Committed: from here on, a second run of this job finds the attempt started.
    if attempt_id is None or target is None:
        log.info("callback %s: no %s attempt due", callback_id, channel)
        return "nothing due"
    to, prompt = target
    # The simulator's customer reacts once the sid is committed, in this job (one job per attempt,
    # instead of a second one per simulated phone).
    simulated: list[tuple[str, float, dict[str, Any]]] = []
    phone = gateway(lambda path, delay, kwargs: simulated.append((path, delay, kwargs)))
    try:
        if channel == "voice":
            sid = phone.place_call(to, attempt_id)
        else:
            sid = phone.send_sms(to, twiml.sms_text(prompt), attempt_id)
    except TransientError as exc:
        with job_session() as session:
            callbacks.release_attempt(session, attempt_id, str(exc))
        log.warning("callback %s attempt %s: %s; will retry", callback_id, attempt_id, exc)
        raise
    except (RejectedError, UncertainError) as exc:
        with job_session() as session:
            callbacks.attempt_failed(session, attempt_id, str(exc), settings())
        log.warning("callback %s attempt %s to %s failed: %s", callback_id, attempt_id, masked(to), exc)
        return "failed"
    with job_session() as session:
        callbacks.attempt_placed(session, attempt_id, sid)
    log.info(
        "callback %s attempt %s: %s to %s placed (%s)", callback_id, attempt_id, channel, masked(to), sid
    )
    for path, delay, kwargs in simulated:
        time.sleep(delay)
        try:
            SIMULATED[path](**kwargs)
        except Exception:  # noqa: BLE001 - a simulated phone failing is like a lost call (the sweep)
            log.exception("simulated customer for attempt %s failed", attempt_id)
    return sid


def simulated_call(sid: str, to: str, attempt_id: int) -> str:
    """The simulator's customer answering (or not) one call, through the signed webhooks."""
    from dispatch.telephony.simulator import run_call

    return run_call(settings(), sid, to, attempt_id)


def simulated_sms(sid: str, to: str, attempt_id: int, body: str) -> str:
    """The simulator's customer receiving one text, and replying if their persona does."""
    from dispatch.telephony.simulator import run_sms

    return run_sms(settings(), sid, to, attempt_id, body)


SIMULATED: dict[str, Callable[..., str]] = {
    "dispatch.jobs.callbacks.simulated_call": simulated_call,
    "dispatch.jobs.callbacks.simulated_sms": simulated_sms,
}
