"""One attempt of one notice delivery: started (and committed) before anything is sent, then
finished with what came back.

Exactly once per (notice, channel) from our side: a job that runs again for an attempt already
started sends nothing. A text whose worker died mid-send may have gone out: it is marked
uncertain, never sent again. A webhook may be sent again, under the same `webhook-id`, so that the
receiver drops the copy. Retries come back through the outbox after PROVIDER_NOTICE_RETRY_SECONDS.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.models import (
    FINAL_STATUSES,
    AttemptOutcome,
    DeliveryAttempt,
    DeliveryStatus,
    NoticeChannel,
    NoticeDelivery,
    NoticeType,
    OrderState,
    Provider,
    ProviderEndpoint,
    ProviderNotice,
    WorkOrder,
)
from dispatch.notices import words
from dispatch.notices.planning import ENDINGS
from dispatch.platform import outbox
from dispatch.platform.actors import Actor
from dispatch.platform.config import quiet_hours, retry_seconds

log = logging.getLogger(__name__)

ACTOR = Actor.system("provider-notices")


@dataclass(frozen=True)
class Start:
    """What one started attempt sends: a text to `to`, or a webhook `body` to the URL `to`."""

    attempt_id: int
    delivery_id: int
    number: int
    channel: str
    to: str
    content: str
    message_id: str
    secret: str | None = None


@dataclass(frozen=True)
class Sent:
    """What one attempt came to: delivered; or may be tried again (nothing or a retryable answer
    came back); or may have gone out (a text: never again); else refused for good."""

    delivered: bool = False
    retry: bool = False
    uncertain: bool = False
    http_status: int | None = None
    sid: str | None = None
    error: str | None = None


def webhook_sent(status: int | None, error: str | None = None) -> Sent:
    """A webhook's answer as an outcome: 2xx delivered; no answer, 408, 429 or 5xx retried; any
    other status (a 410 Gone, a 400, a redirect) refused for good."""
    if status is not None and 200 <= status < 300:
        return Sent(delivered=True, http_status=status)
    retry = status is None or status in (408, 429) or status >= 500
    return Sent(retry=retry, http_status=status, error=error or (f"HTTP {status}" if status else None))


def channel_of(session: Session, delivery_id: int) -> str | None:
    """The channel of a delivery (a job takes a text's rate-limit slot before starting it)."""
    return session.scalar(select(NoticeDelivery.channel).where(NoticeDelivery.id == delivery_id))


def start(
    session: Session, delivery_id: int, number: int, settings: Mapping[str, Any], now: datetime
) -> Start | None:
    """Start attempt `number` of a delivery if it is due and still stands; None: nothing to send."""
    delivery = session.get(NoticeDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status in FINAL_STATUSES:
        return None
    if delivery.attempts >= number:
        # Started before (the outbox handed the job over again, or a worker died while sending).
        earlier = _attempt(session, delivery.id, number)
        if earlier is not None and earlier.outcome == AttemptOutcome.SENDING:
            _lost(session, delivery, earlier, settings, now)
        return None
    if delivery.attempts != number - 1:
        return None  # a request for an attempt that is not the next one
    notice = delivery.notice
    order = session.get(WorkOrder, notice.work_order_id)
    reason = superseded(notice, order)
    if reason is not None or order is None:
        _supersede(delivery, reason or "the order is gone", now)
        return None
    if delivery.channel == NoticeChannel.TEXT:
        to = session.scalar(select(Provider.phone).where(Provider.id == notice.provider_id))
        if not to:
            _skip(delivery, "the provider has no phone number", now)
            return None
        until = held_until(order.city.timezone, settings["PROVIDER_QUIET_HOURS"], now)
        if until is not None and notice.type != NoticeType.VISIT_UPCOMING:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.HELD.value, until
            outbox.put(
                session,
                "deliver_notice",
                {"delivery_id": delivery.id, "attempt": number},
                available_at=until,
                dedupe_key=f"notice:{delivery.id}:{number}:held:{until.isoformat()}",
            )
            log.info("notice delivery %s held until %s (quiet hours)", delivery.id, until)
            return None
        content, secret = words.text(notice, order), None
    else:
        endpoint = session.scalars(
            select(ProviderEndpoint).where(ProviderEndpoint.provider_id == notice.provider_id)
        ).first()
        if endpoint is None:
            _skip(delivery, "the provider's endpoint was removed", now)
            return None
        to, secret = endpoint.url, endpoint.secret
        content = json.dumps(words.payload(notice, order, now), separators=(",", ":"), sort_keys=True)
    attempt = DeliveryAttempt(
        delivery_id=delivery.id, number=number, started_at=now, outcome=AttemptOutcome.SENDING.value
    )
    session.add(attempt)
    delivery.attempts, delivery.status, delivery.next_attempt_at = number, DeliveryStatus.SENDING.value, None
    session.flush()
    return Start(attempt.id, delivery.id, number, delivery.channel, to, content, notice.webhook_id, secret)


def finish(session: Session, attempt_id: int, sent: Sent, settings: Mapping[str, Any], now: datetime) -> str:
    """Record what an attempt came to (and plan the next one); returns the delivery's status."""
    attempt = session.get(DeliveryAttempt, attempt_id, with_for_update=True)
    if attempt is None:
        raise LookupError(f"notice attempt {attempt_id} not found")
    delivery = session.get(NoticeDelivery, attempt.delivery_id, with_for_update=True)
    assert delivery is not None
    if attempt.outcome != AttemptOutcome.SENDING:
        return delivery.status  # finished already
    attempt.finished_at, attempt.http_status = now, sent.http_status
    attempt.error = sent.error[:300] if sent.error else None
    delivery.last_http_status = sent.http_status
    if sent.delivered:
        attempt.outcome = AttemptOutcome.DELIVERED.value
        delivery.sid = sent.sid
        _end(session, delivery, DeliveryStatus.DELIVERED, now)
    elif sent.uncertain:
        attempt.outcome = AttemptOutcome.UNCERTAIN.value
        _end(session, delivery, DeliveryStatus.UNCERTAIN, now)
    elif sent.retry:
        _retry_or_fail(session, delivery, attempt, settings, now)
    else:
        attempt.outcome = AttemptOutcome.FAILED.value
        _end(session, delivery, DeliveryStatus.FAILED, now)
    return delivery.status


def superseded(notice: ProviderNotice, order: WorkOrder | None) -> str | None:
    """Why a notice no longer applies (its booking version was followed by another), or None."""
    if notice.superseded_at is not None:
        return notice.superseded_reason or "superseded"
    if order is None:
        return "the order is gone"
    if notice.type in ENDINGS:
        return None  # the end of the provider's part in the order stays true
    if order.booking_version != notice.booking_version:
        return f"booking changed (version {order.booking_version})"
    if notice.type == NoticeType.VISIT_UPCOMING and (
        order.state != OrderState.BOOKED or order.provider_id != notice.provider_id
    ):
        return "the visit is no longer booked"
    return None


def held_until(timezone: str, setting: Any, now: datetime) -> datetime | None:
    """When the provider's quiet hours (local time of `timezone`) end, if `now` is within them."""
    window = quiet_hours(setting)
    if window is None:
        return None
    begin, end = window
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    inside = begin <= clock < end if begin < end else (clock >= begin or clock < end)
    if not inside:
        return None
    until = datetime.combine(local.date(), end, tzinfo=zone)
    if until <= local:
        until = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
    return until.astimezone(now.tzinfo)


def _attempt(session: Session, delivery_id: int, number: int) -> DeliveryAttempt | None:
    return session.scalars(
        select(DeliveryAttempt).where(
            DeliveryAttempt.delivery_id == delivery_id, DeliveryAttempt.number == number
        )
    ).first()


def _lost(
    session: Session,
    delivery: NoticeDelivery,
    attempt: DeliveryAttempt,
    settings: Mapping[str, Any],
    now: datetime,
) -> None:
    """An attempt whose worker died before it was finished."""
    attempt.finished_at = now
    attempt.error = "the worker stopped during this attempt"
    if delivery.channel == NoticeChannel.TEXT:
        # It may have reached Twilio: a second text would tell the provider twice.
        attempt.outcome = AttemptOutcome.UNCERTAIN.value
        _end(session, delivery, DeliveryStatus.UNCERTAIN, now)
    else:
        # The receiver drops a copy by its webhook-id: safe to deliver again.
        attempt.outcome = AttemptOutcome.LOST.value
        _retry_or_fail(session, delivery, attempt, settings, now)


def _retry_or_fail(
    session: Session,
    delivery: NoticeDelivery,
    attempt: DeliveryAttempt,
    settings: Mapping[str, Any],
    now: datetime,
) -> None:
    pauses = retry_seconds(settings["PROVIDER_NOTICE_RETRY_SECONDS"])
    if attempt.outcome == AttemptOutcome.SENDING:
        attempt.outcome = AttemptOutcome.RETRY.value
    if attempt.number > len(pauses):
        if attempt.outcome == AttemptOutcome.RETRY:
            attempt.outcome = AttemptOutcome.FAILED.value
        _end(session, delivery, DeliveryStatus.FAILED, now)
        return
    due = now + timedelta(seconds=pauses[attempt.number - 1])
    attempt.next_retry_at = due
    delivery.status, delivery.next_attempt_at = DeliveryStatus.SCHEDULED.value, due
    outbox.put(
        session,
        "deliver_notice",
        {"delivery_id": delivery.id, "attempt": attempt.number + 1},
        available_at=due,
        dedupe_key=f"notice:{delivery.id}:{attempt.number + 1}",
    )


def _end(session: Session, delivery: NoticeDelivery, status: DeliveryStatus, now: datetime) -> None:
    """A delivery's last word; delivered and failed ones go into the order's history."""
    delivery.status, delivery.finished_at, delivery.next_attempt_at = status.value, now, None
    if status in (DeliveryStatus.SUPERSEDED, DeliveryStatus.SKIPPED):
        return
    notice = delivery.notice
    trail.record(
        session,
        ACTOR,
        "work_order",
        notice.work_order_id,
        "provider_notified" if status == DeliveryStatus.DELIVERED else "provider_notice_failed",
        data={
            "notice_id": notice.id,
            "provider_id": notice.provider_id,
            "type": notice.type,
            "lead": notice.lead,
            "booking_version": notice.booking_version,
            "channel": delivery.channel,
            "status": status.value,
        },
    )


def _supersede(delivery: NoticeDelivery, reason: str, now: datetime) -> None:
    delivery.status, delivery.finished_at, delivery.next_attempt_at = (
        DeliveryStatus.SUPERSEDED.value,
        now,
        None,
    )
    notice = delivery.notice
    if notice.superseded_at is None and not any(
        d.status in (DeliveryStatus.DELIVERED, DeliveryStatus.SENDING, DeliveryStatus.UNCERTAIN)
        for d in notice.deliveries
    ):
        notice.superseded_at, notice.superseded_reason = now, reason[:200]
    log.info("notice delivery %s superseded: %s", delivery.id, reason)


def _skip(delivery: NoticeDelivery, reason: str, now: datetime) -> None:
    delivery.status, delivery.finished_at, delivery.next_attempt_at = DeliveryStatus.SKIPPED.value, now, None
    log.info("notice delivery %s skipped: %s", delivery.id, reason)
