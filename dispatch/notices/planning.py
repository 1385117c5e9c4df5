"""Which notices one version of an order's booking gives its provider, and when.

Called once per booking version by `bookings.booking_changed` (the job `booking_changed`), with
the order locked. A version that is no longer the order's newest plans nothing: the job of the
newer version tells of it. Each notice is tied to the version it was planned for; its delivery
job reads the order again and sends only while that version stands (`delivery.start`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.models import (
    DeliveryStatus,
    NoticeChannel,
    NoticeDelivery,
    NoticeType,
    OrderState,
    Provider,
    ProviderEndpoint,
    ProviderNotice,
    WorkOrder,
    utcnow,
)
from dispatch.platform import outbox, signed_webhooks
from dispatch.platform.config import Lead, notice_leads

log = logging.getLogger(__name__)

# What each change of the booking tells the order's provider at once ("close" tells it nothing:
# the provider closed it; "verify" is no change of the booking).
IMMEDIATE: dict[str, NoticeType] = {
    "create": NoticeType.ROUTED,
    "assign": NoticeType.ROUTED,
    "book": NoticeType.BOOKED,
    "reschedule": NoticeType.RESCHEDULED,
    "unbook": NoticeType.UNBOOKED,
    "reopen": NoticeType.REOPENED,
    "cancel": NoticeType.CANCELLED,
}
# Notices that end a provider's part in an order: a later version never makes them pointless.
ENDINGS = frozenset({NoticeType.CANCELLED, NoticeType.WITHDRAWN})
NOW = "now"


def lead_due(lead: Lead, start: datetime, timezone: str) -> datetime:
    """When a visit reminder at `lead` is due for a visit starting at `start` (UTC) in `timezone`.

    A wall-clock lead ("evening-before@18:00") is that local time on the local day it names, so
    it stays 18:00 on the wall across a change to or from daylight saving time; a duration ("1h")
    is that long before the start.
    """
    if lead.before is not None:
        return start - lead.before
    assert lead.at is not None and lead.days_before is not None
    zone = ZoneInfo(timezone)
    day = start.astimezone(zone).date() - timedelta(days=lead.days_before)
    return datetime.combine(day, lead.at, tzinfo=zone).astimezone(UTC)


def on_booking_changed(
    session: Session, order: WorkOrder, version: int, action: str, settings: Mapping[str, Any]
) -> None:
    """Plan what this booking version tells providers: at once, and ahead of the visit."""
    if order.booking_version != version:
        return  # superseded: the job of the newer version tells of it
    now = utcnow()
    supersede_older(session, order.id, version, now)
    told = _last_provider_told(session, order.id)
    if told is not None and told != order.provider_id:
        # Moved to another provider: the one told before hears it is no longer its order.
        _plan(session, order, told, NoticeType.WITHDRAWN, NOW, now)
    if order.provider_id is None:
        return
    kind = IMMEDIATE.get(action)
    if kind is not None and told != order.provider_id:
        # The first this provider hears of the order (its earlier notices, if any, were superseded
        # before they went out): that it is routed to it, as it stands; a cancellation, nothing.
        kind = None if kind == NoticeType.CANCELLED else NoticeType.ROUTED
    if kind is not None:
        _plan(session, order, order.provider_id, kind, NOW, now)
    if order.state == OrderState.BOOKED and order.appointment_start is not None:
        for lead in notice_leads(settings["PROVIDER_NOTICE_LEADS"]):
            due = lead_due(lead, order.appointment_start, order.city.timezone)
            if due > now:  # a lead time already past: the notice of the change told it
                _plan(session, order, order.provider_id, NoticeType.VISIT_UPCOMING, lead.name, due)


def supersede_older(session: Session, work_order_id: int, version: int, now: datetime) -> None:
    """Mark what older versions left pending as superseded (a visit reminder for a slot that no
    longer stands, a notice of a change still held)."""
    older = (
        select(ProviderNotice.id)
        .where(
            ProviderNotice.work_order_id == work_order_id,
            ProviderNotice.booking_version < version,
            ProviderNotice.superseded_at.is_(None),
            ProviderNotice.type.not_in([t.value for t in ENDINGS]),
        )
        .scalar_subquery()
    )
    reason = f"booking changed (version {version})"
    session.execute(
        update(NoticeDelivery)
        .where(
            NoticeDelivery.notice_id.in_(older),
            # Not one being sent right now: that attempt finishes, and its retries stop at start().
            NoticeDelivery.status.in_([DeliveryStatus.SCHEDULED.value, DeliveryStatus.HELD.value]),
        )
        .values(status=DeliveryStatus.SUPERSEDED.value, finished_at=now, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    # A notice is superseded when none of its deliveries went out or may still go out.
    stopped = (
        select(NoticeDelivery.id)
        .where(
            NoticeDelivery.notice_id == ProviderNotice.id,
            NoticeDelivery.status == DeliveryStatus.SUPERSEDED.value,
        )
        .exists()
    )
    other = (
        select(NoticeDelivery.id)
        .where(
            NoticeDelivery.notice_id == ProviderNotice.id,
            NoticeDelivery.status.not_in([DeliveryStatus.SUPERSEDED.value, DeliveryStatus.SKIPPED.value]),
        )
        .exists()
    )
    session.execute(
        update(ProviderNotice)
        .where(ProviderNotice.id.in_(older), stopped, ~other)
        .values(superseded_at=now, superseded_reason=reason)
        .execution_options(synchronize_session=False)
    )


def _last_provider_told(session: Session, work_order_id: int) -> int | None:
    """The provider that holds this order as far as it was told: the one the newest notice of a
    change went (or goes) to, unless that notice withdrew the order from it. A notice superseded
    before it went out told nobody."""
    newest = session.execute(
        select(ProviderNotice.provider_id, ProviderNotice.type)
        .where(
            ProviderNotice.work_order_id == work_order_id,
            ProviderNotice.lead == NOW,
            ProviderNotice.superseded_at.is_(None),
        )
        .order_by(ProviderNotice.id.desc())
        .limit(1)
    ).first()
    if newest is None or newest.type == NoticeType.WITHDRAWN:
        return None
    return int(newest.provider_id)


def _plan(
    session: Session, order: WorkOrder, provider_id: int, kind: NoticeType, lead: str, due: datetime
) -> ProviderNotice | None:
    """One notice and its deliveries (text to the provider's phone, webhook to its endpoint), each
    requested through the outbox at `due`; None when this version planned it already."""
    key = f"{order.id}:{order.booking_version}:{provider_id}:{kind.value}:{lead}"
    if session.scalar(select(ProviderNotice.id).where(ProviderNotice.dedupe_key == key)) is not None:
        return None
    notice = ProviderNotice(
        dedupe_key=key,
        provider_id=provider_id,
        work_order_id=order.id,
        booking_version=order.booking_version,
        type=kind.value,
        lead=lead,
        due_at=due,
        webhook_id=signed_webhooks.new_message_id(),
    )
    session.add(notice)
    channels = []
    if session.scalar(select(Provider.phone).where(Provider.id == provider_id)):
        channels.append(NoticeChannel.TEXT)
    if session.scalar(select(ProviderEndpoint.id).where(ProviderEndpoint.provider_id == provider_id)):
        channels.append(NoticeChannel.WEBHOOK)
    deliveries = [NoticeDelivery(notice=notice, channel=c.value, next_attempt_at=due) for c in channels]
    session.add_all(deliveries)
    session.flush()
    for delivery in deliveries:
        outbox.put(
            session,
            "deliver_notice",
            {"delivery_id": delivery.id, "attempt": 1},
            available_at=due,
            dedupe_key=f"notice:{delivery.id}:1",
        )
    log.info(
        "planned %s (%s) for provider %s, order %s v%s: %s",
        kind.value,
        lead,
        provider_id,
        order.id,
        order.booking_version,
        ", ".join(c.value for c in channels) or "no channel",
    )
    return notice
