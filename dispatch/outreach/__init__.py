"""Messages to customers under one contact policy (issue 15): the contact core.

- `queue(session, actor, *, customer_id, purpose, transactional, dedupe_key, not_before=None,
  work_order_id=None, unit_id=None, booking_version=None, params=None) -> CustomerMessage | None`
  queues one text (None: that dedupe key exists; never twice) and requests its send job through
  the outbox for `not_before`.
- `composers.register(purpose, fn)`: `fn(session, message, language) -> str | None` writes the
  text at send time (None: superseded, with `composers.superseded(message, reason)`).
- `replies.register(purpose, fn)`: `fn(session, message, text) -> str | None` reads a reply.
- `supersede_pending(...)`: what is pending and no longer applies.
- The policy at send time (`sending.prepare`): opted out -> skipped; quiet hours -> held until they
  end; proactive over the cap -> capped; each in the customer's contact history (`contact_history`).
- `consent`: the one record of refusal and consent, with its evidence, for every channel.
- `requests`: the hotline's queue of requests for a person.

It sits in a layer of its own below the capabilities (setup.cfg), so that any capability (the
reminders, care) can queue a message; it imports only the trail, platform and models.
"""

from dispatch.outreach import composers, consent, policy, replies, requests, sending
from dispatch.outreach.composers import superseded
from dispatch.outreach.history import HistoryLine, contact_history
from dispatch.outreach.messages import JOB, queue, supersede_pending

__all__ = [
    "JOB",
    "HistoryLine",
    "composers",
    "consent",
    "contact_history",
    "policy",
    "queue",
    "replies",
    "requests",
    "sending",
    "supersede_pending",
    "superseded",
]
