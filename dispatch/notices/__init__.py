"""Providers told: each change to an order's booking at once, and again ahead of each visit, by
text and by a signed webhook, with a delivery log per provider (issue 15).

- `planning`: the booking handler (`bookings.HANDLERS`) that plans the notices of one booking
  version and supersedes what an older version left pending.
- `delivery`: one attempt of one delivery (text or webhook): started and committed before anything
  is sent, finished with what came back; retries with back-off through the outbox.
- `endpoints`: a provider's webhook URL and signing secret, set by headquarters.
- `reading`: the delivery log, for the provider (its own) and headquarters.
"""

from dispatch.notices.delivery import Sent, Start, channel_of, finish, start, webhook_sent
from dispatch.notices.endpoints import get_endpoint, remove_endpoint, set_endpoint
from dispatch.notices.planning import on_booking_changed
from dispatch.notices.reading import NoticeFilter, get_notice, list_notices

__all__ = [
    "NoticeFilter",
    "Sent",
    "Start",
    "channel_of",
    "finish",
    "get_endpoint",
    "get_notice",
    "list_notices",
    "on_booking_changed",
    "remove_endpoint",
    "set_endpoint",
    "start",
    "webhook_sent",
]
