"""Sending one message: the contact policy at send time, committed before the gateway is asked.

The sending job (dispatch/jobs/outreach.py) runs, for one message:
1. `prepare` (its own transaction, committed before anything is sent): a message no longer pending
   is left alone (a second run of the job finds it taken); the composer writes the text as things
   are now (None: superseded); an opted-out number is skipped; quiet hours hold it (its send job
   requested again for when they end); proactive contact over the cap is capped. Otherwise it is
   marked "sending" with its number and text, and returned.
2. The gateway's `send_text`, then `sent` (the sid), or: `release` (nothing was sent: the job is
   retried), `uncertain` (it may have gone out: never resent, a person checks), `failed` (refused).
A worker killed between 1 and 2 leaves a message "sending": `sweep` hands it to a person after
CONTACT_SENDING_TIMEOUT_MINUTES (it may have been sent; it is never sent again by itself), and
re-requests a pending or held message whose send job was lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.models import (
    ContactEventKind,
    Customer,
    CustomerMessage,
    MessageStatus,
    utcnow,
)
from dispatch.outreach import composers, consent, policy, replies, requests
from dispatch.outreach.messages import OPEN_STATUSES, event, finish, request_send
from dispatch.platform.actors import Actor

SENDER = Actor.system("outreach")

# Counted against the cap: what went out, or may have.
_COUNTED = (MessageStatus.SENDING.value, MessageStatus.SENT.value, MessageStatus.UNCERTAIN.value)


@dataclass(frozen=True)
class Outgoing:
    """A message committed as "sending": what the gateway is to send."""

    message_id: int
    to: str
    body: str
    reference: str


def may_be_due(session: Session, message_id: int, now: datetime) -> bool:
    """False when `prepare` would surely do nothing (a plain read, so that a repeated or stale job
    does not take a slot of the outbound rate limit); `prepare` still decides."""
    row = session.execute(
        select(CustomerMessage.status, CustomerMessage.due_at).where(CustomerMessage.id == message_id)
    ).first()
    return row is not None and row.status in OPEN_STATUSES and row.due_at <= now


def _language(customer: Customer) -> str:
    return customer.language or customer.city.language or "en"


def _period_count(session: Session, message: CustomerMessage, start: datetime, end: datetime) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(CustomerMessage)
            .where(
                CustomerMessage.customer_id == message.customer_id,
                CustomerMessage.transactional.is_(False),
                CustomerMessage.status.in_(_COUNTED),
                CustomerMessage.started_at >= start,
                CustomerMessage.started_at < end,
            )
        )
        or 0
    )


def prepare(session: Session, message_id: int, now: datetime, settings: Mapping[str, Any]) -> Outgoing | None:
    """Apply the contact policy to one due message; return it marked "sending", or None."""
    message = session.get(CustomerMessage, message_id, with_for_update={"of": CustomerMessage})
    if message is None or message.status not in OPEN_STATUSES or message.due_at > now:
        return None  # taken, finished, or an early request (its own request is queued)
    customer = message.customer
    if customer.erased_at is not None:
        finish(session, SENDER, message, MessageStatus.SKIPPED, "customer erased", now)
        return None
    language = _language(customer)
    message.reason = None
    body = composers.composer_for(message.purpose)(session, message, language)
    if body is None:
        finish(session, SENDER, message, MessageStatus.SUPERSEDED, message.reason or "no longer applies", now)
        return None
    refusal = consent.refusal_of(session, customer.phone, settings)
    if refusal is not None:
        # Transactional texts too: after a refusal only the opt-out confirmation is allowed, and
        # Twilio's own answer to STOP is that confirmation (docs/guarantees/contact-policy.md).
        when = refusal.created_at.isoformat(timespec="minutes")
        finish(session, SENDER, message, MessageStatus.SKIPPED, f"opted out ({refusal.source}, {when})", now)
        return None
    tz = customer.city.timezone
    if policy.in_quiet_hours(now, tz, settings):
        until = policy.quiet_hours_end(now, tz, settings)
        local = until.astimezone(policy.ZoneInfo(tz))
        message.status = MessageStatus.HELD.value
        request_send(session, message, until)
        reason = f"quiet hours in {tz}: held until {local:%Y-%m-%d %H:%M} local"
        message.reason = reason
        event(session, message, ContactEventKind.HELD, reason, now)
        session.flush()
        return None
    if not message.transactional:
        # One proactive send at a time per customer, so that two jobs cannot both pass the cap.
        session.execute(select(Customer.id).where(Customer.id == customer.id).with_for_update())
        cap, period = int(settings["CONTACT_PROACTIVE_CAP"]), str(settings["CONTACT_CAP_PERIOD"])
        start, end = policy.period_of(now, tz, period)
        if _period_count(session, message, start, end) >= cap:
            reason = f"proactive cap: {cap} per {period} reached"
            finish(session, SENDER, message, MessageStatus.CAPPED, reason, now)
            return None
    message.status = MessageStatus.SENDING.value
    message.language = language
    message.to_number = customer.phone
    message.body = body
    message.started_at = now
    message.reason = None
    session.flush()
    return Outgoing(message.id, customer.phone, body, f"message-{message.id}")


def _lock(session: Session, message_id: int) -> CustomerMessage | None:
    return session.get(CustomerMessage, message_id, with_for_update={"of": CustomerMessage})


def sent(session: Session, message_id: int, provider_sid: str) -> None:
    """The gateway took the message: its sid, in the customer's history (idempotent)."""
    message = _lock(session, message_id)
    if message is None or message.status == MessageStatus.SENT:
        return
    now = utcnow()
    if message.status == MessageStatus.UNCERTAIN:
        # The gateway's answer came after the sweep gave the message up: it was sent after all.
        requests.close_checks(session, message.id, f"sent after all ({provider_sid})")
    message.provider_sid = provider_sid
    message.sent_at = now
    message.awaits_reply = replies.takes_replies(message.purpose)
    finish(session, SENDER, message, MessageStatus.SENT, None, now)


def release(session: Session, message_id: int, error: str) -> None:
    """Nothing was sent (the gateway refused for now): pending again, so that a retry sends it."""
    message = _lock(session, message_id)
    if message is None or message.status != MessageStatus.SENDING:
        return
    message.status = MessageStatus.PENDING.value
    message.started_at = None
    message.reason = f"not sent, will retry: {error}"[:300]
    session.flush()


def _to_person(session: Session, message: CustomerMessage, kind: str) -> None:
    requests.add(
        session,
        customer_id=message.customer_id,
        kind=kind,
        work_order_id=message.work_order_id,
        message_id=message.id,
    )


def uncertain(session: Session, message_id: int, error: str) -> None:
    """It may have been sent: never sent again by itself; a person checks (the hotline's queue)."""
    message = _lock(session, message_id)
    if message is None or message.status != MessageStatus.SENDING:
        return
    finish(
        session,
        SENDER,
        message,
        MessageStatus.UNCERTAIN,
        f"may have been sent, not resent: {error}",
        utcnow(),
    )
    _to_person(session, message, "check_text")


def failed(session: Session, message_id: int, error: str) -> None:
    """Refused for good by the gateway (a wrong number): recorded, not retried."""
    message = _lock(session, message_id)
    if message is None or message.status != MessageStatus.SENDING:
        return
    finish(session, SENDER, message, MessageStatus.FAILED, f"refused: {error}", utcnow())


@dataclass
class SweepReport:
    """What one sweep did."""

    requested: int = 0
    uncertain: int = 0


def sweep(session: Session, now: datetime, settings: Mapping[str, Any], batch: int = 500) -> SweepReport:
    """Re-request messages whose send job was lost; hand to a person those a worker left "sending"."""
    report = SweepReport()
    stale = now - timedelta(minutes=float(settings["CONTACT_SWEEP_STALE_MINUTES"]))
    for message in session.scalars(
        select(CustomerMessage)
        .where(CustomerMessage.status.in_(OPEN_STATUSES), CustomerMessage.due_at < stale)
        .order_by(CustomerMessage.due_at)
        .limit(batch)
        .with_for_update(of=CustomerMessage, skip_locked=True)
    ):
        request_send(session, message, now)
        report.requested += 1
    lost = now - timedelta(minutes=float(settings["CONTACT_SENDING_TIMEOUT_MINUTES"]))
    for message in session.scalars(
        select(CustomerMessage)
        .where(CustomerMessage.status == MessageStatus.SENDING, CustomerMessage.started_at < lost)
        .order_by(CustomerMessage.started_at)
        .limit(batch)
        .with_for_update(of=CustomerMessage, skip_locked=True)
    ):
        finish(
            session,
            SENDER,
            message,
            MessageStatus.UNCERTAIN,
            "the sender stopped while sending: may have been sent, not resent",
            now,
        )
        _to_person(session, message, "check_text")
        report.uncertain += 1
    session.flush()
    return report
