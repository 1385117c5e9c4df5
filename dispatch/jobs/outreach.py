"""The job that sends one message to a customer, at most once (dispatch/outreach/sending.py).

The message is marked "sending" and COMMITTED before the gateway is asked: a second run of the job
(RQ retry, relay re-send, the sweep, a second scheduler) finds it taken and does nothing. Only when
nothing can have been sent (connection refused, Twilio 429/503) is it made pending again, and RQ's
Retry sends it later; an uncertain error is never resent, a person checks it.
"""

from __future__ import annotations

import logging

import dispatch.contacts  # noqa: F401 - registers every purpose's composer and reply handler
from dispatch import outreach
from dispatch.jobs.callbacks import SLOT_TIMEOUT_SECONDS, NoSlot, outbound_limit
from dispatch.jobs.runtime import job_session, session_factory, settings
from dispatch.models import utcnow
from dispatch.platform.phones import masked
from dispatch.telephony import RejectedError, TransientError, UncertainError, make_gateway

log = logging.getLogger(__name__)


def _no_schedule(path: str, delay: float, kwargs: dict) -> None:
    """The simulator's customers do not react to these texts (they reply through the webhooks)."""


def send_customer_message(message_id: int) -> str:
    """Send one queued message if it is still due and allowed; at most once."""
    with session_factory()() as session:
        due = outreach.sending.may_be_due(session, message_id, utcnow())
    if not due:
        with job_session():  # nothing to do: the request is done (its outbox row too)
            pass
        return "nothing due"
    if outbound_limit("sms").acquire(timeout=SLOT_TIMEOUT_SECONDS) is None:
        raise NoSlot(f"no sms slot within {SLOT_TIMEOUT_SECONDS:.0f}s")
    with job_session() as session:
        outgoing = outreach.sending.prepare(session, message_id, utcnow(), settings())
    # Committed: from here on, a second run of this job finds the message taken.
    if outgoing is None:
        return "not sent"
    gateway = make_gateway(settings(), schedule=_no_schedule)
    try:
        sid = gateway.send_text(outgoing.to, outgoing.body, outgoing.reference)
    except TransientError as exc:
        with job_session() as session:
            outreach.sending.release(session, message_id, str(exc))
        log.warning("message %s: %s; will retry", message_id, exc)
        raise
    except UncertainError as exc:
        with job_session() as session:
            outreach.sending.uncertain(session, message_id, str(exc))
        log.warning("message %s to %s may have been sent: %s", message_id, masked(outgoing.to), exc)
        return "uncertain"
    except RejectedError as exc:
        with job_session() as session:
            outreach.sending.failed(session, message_id, str(exc))
        log.warning("message %s to %s refused: %s", message_id, masked(outgoing.to), exc)
        return "failed"
    with job_session() as session:
        outreach.sending.sent(session, message_id, sid)
    log.info("message %s sent to %s (%s)", message_id, masked(outgoing.to), sid)
    return sid


def sweep_customer_messages() -> dict:
    """Re-request messages whose send job was lost; hand to a person those left "sending" (cron)."""
    with job_session() as session:
        report = outreach.sending.sweep(session, utcnow(), settings())
    return report.__dict__
