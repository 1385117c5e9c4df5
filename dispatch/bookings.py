"""A change to an order's booking, told to whoever must hear of it.

Every change of a work order's booking (created, assigned, booked, rescheduled, unbooked, closed,
reopened, cancelled) raises `WorkOrder.booking_version` and requests, in the same transaction, the
job `booking_changed` through the outbox (`orders/machine.py`). That job calls `booking_changed`
here once per version (the outbox's dedupe key), in a transaction of its own. It sits above the
capabilities (as `visits.py` does) because telling a change spans them: the provider's notices
(`notices/`) and the customer's confirmations and reminders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from dispatch import notices, reminders
from dispatch.models import WorkOrder

log = logging.getLogger(__name__)

# (session, order, the version the job was requested for, the action, settings) -> None. Each reads
# `order` as it is now: when `order.booking_version` is newer than `version`, a later job tells of
# the newer booking, and a handler that would announce this one should do nothing.
Handler = Callable[[Session, WorkOrder, int, str, dict[str, Any]], None]

HANDLERS: list[Handler] = [
    # The provider: told at once, and again ahead of the visit (notices/planning.py).
    notices.on_booking_changed,
    # The customer's confirmation and day-before reminder (dispatch/reminders).
    reminders.booking_changed,
]


def booking_changed(
    session: Session, work_order_id: int, booking_version: int, action: str, settings: dict[str, Any]
) -> int:
    """Run every handler for one version of one order's booking; returns how many ran."""
    order = session.get(WorkOrder, work_order_id, with_for_update={"of": WorkOrder})
    if order is None:  # erased or never committed: nothing to tell
        return 0
    for handler in HANDLERS:
        handler(session, order, booking_version, action, settings)
    log.debug(
        "booking %s v%s (%s) told to %d handlers", work_order_id, booking_version, action, len(HANDLERS)
    )
    return len(HANDLERS)
