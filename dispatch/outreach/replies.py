"""Replies to messages: a customer's text that answers no verification callback goes to the newest
message to that customer that awaits a reply, whose purpose's handler reads it.

`register(purpose, fn)`: `fn(session, message, text) -> str | None` returns the text to answer
with (None: no answer). The reply is kept in the customer's contact history either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.models import ContactEventKind, Customer, CustomerMessage, MessageStatus, utcnow
from dispatch.outreach.messages import event

ReplyHandler = Callable[[Session, CustomerMessage, str], "str | None"]

_HANDLERS: dict[str, ReplyHandler] = {}


def register(purpose: str, fn: ReplyHandler) -> None:
    """Make `fn` read the replies to texts of `purpose` (registering the same function again is harmless)."""
    known = _HANDLERS.get(purpose)
    if known is not None and known is not fn:
        raise ValueError(f"purpose {purpose!r} already has a reply handler ({known.__qualname__})")
    _HANDLERS[purpose] = fn


def takes_replies(purpose: str) -> bool:
    """Whether texts of `purpose` wait for a reply."""
    return purpose in _HANDLERS


def awaiting_reply(session: Session, phone_e164: str, settings: Mapping[str, Any]) -> CustomerMessage | None:
    """The newest message to this number that awaits a reply (within CONTACT_REPLY_WINDOW_HOURS)."""
    since = utcnow() - timedelta(hours=float(settings["CONTACT_REPLY_WINDOW_HOURS"]))
    return session.scalars(
        select(CustomerMessage)
        .join(Customer, Customer.id == CustomerMessage.customer_id)
        .where(
            Customer.phone == phone_e164,
            CustomerMessage.status == MessageStatus.SENT,
            CustomerMessage.awaits_reply.is_(True),
            CustomerMessage.sent_at >= since,
        )
        .order_by(CustomerMessage.sent_at.desc(), CustomerMessage.id.desc())
        .limit(1)
    ).first()


def reply_received(
    session: Session, phone_e164: str, text: str, settings: Mapping[str, Any]
) -> tuple[bool, str | None]:
    """Hand a customer's text to the message it answers: (whether one took it, the answer to send)."""
    message = awaiting_reply(session, phone_e164, settings)
    if message is None:
        return False, None
    handler = _HANDLERS.get(message.purpose)
    if handler is None:
        return False, None
    now = utcnow()
    message.replied_at = now
    event(session, message, ContactEventKind.REPLY, (text or "").strip()[:300], now)
    answer = handler(session, message, text)
    session.flush()
    return True, answer
