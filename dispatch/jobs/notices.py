"""The job that delivers one attempt of one provider notice (a text, or a signed webhook).

The attempt is started and COMMITTED before anything is sent (`notices.start`), and finished with
what came back (`notices.finish`, which plans the next attempt through the outbox when one may
follow). The job's outbox row is marked done only with the finish: a worker that dies while
sending leaves it, the relay hands it over again, and that run finds the attempt started and
unfinished (a text: marked uncertain, never sent twice; a webhook: retried under its id).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.orm import Session

from dispatch import notices
from dispatch.jobs.callbacks import SLOT_TIMEOUT_SECONDS, NoSlot, gateway, outbound_limit
from dispatch.jobs.runtime import job_session, session_factory, settings
from dispatch.models import NoticeChannel, utcnow
from dispatch.platform import signed_webhooks
from dispatch.telephony import Gateway, RejectedError, TransientError, UncertainError

log = logging.getLogger(__name__)


def deliver_notice(delivery_id: int, attempt: int = 1) -> str:
    """Make attempt `attempt` of a notice delivery, if it is due and its booking still stands."""

    def text_slot() -> None:
        # Provider texts share the installation's outbound SMS limit with the callbacks.
        if outbound_limit("sms").acquire(timeout=SLOT_TIMEOUT_SECONDS) is None:
            raise NoSlot(f"no sms slot within {SLOT_TIMEOUT_SECONDS:.0f}s")

    with session_factory()() as session:
        channel = notices.channel_of(session, delivery_id)
    if channel == NoticeChannel.TEXT:
        text_slot()  # before starting: a worker killed while waiting has started nothing
    return deliver(
        delivery_id,
        attempt,
        settings=settings(),
        sessions=job_session,
        plain=session_factory(),
        phone=lambda: gateway(lambda *_: None),
    )


def deliver(
    delivery_id: int,
    attempt: int,
    *,
    settings: dict[str, Any],
    sessions: Callable[[], AbstractContextManager[Session]],
    plain: Callable[[], Session],
    phone: Callable[[], Gateway],
) -> str:
    """Start, send and finish one attempt; returns the delivery's status.

    `sessions()` is a transaction that also completes the job's outbox row; `plain()` one that
    does not (the start, so that the row stays due until the attempt is finished).
    """
    with plain() as session:
        started = notices.start(session, delivery_id, attempt, settings, utcnow())
        session.commit()
    # Committed: from here on a second run of this request finds the attempt started.
    if started is None:
        with sessions():  # nothing (more) to send: the request is done
            pass
        return "nothing to send"
    if started.channel == NoticeChannel.TEXT:
        sent = _text(phone(), started)
    else:
        assert started.secret is not None
        answer = signed_webhooks.post(
            started.to,
            started.secret,
            started.message_id,
            int(utcnow().timestamp()),
            started.content,
            float(settings["PROVIDER_WEBHOOK_TIMEOUT_SECONDS"]),
        )
        sent = notices.webhook_sent(answer.status, answer.error)
    with sessions() as session:
        status = notices.finish(session, started.attempt_id, sent, settings, utcnow())
    log.info("notice delivery %s attempt %s (%s): %s", delivery_id, attempt, started.channel, status)
    return status


def _text(phone: Gateway, started: notices.Start) -> notices.Sent:
    try:
        sid = phone.send_text(started.to, started.content, reference=f"notice-delivery-{started.delivery_id}")
    except TransientError as exc:
        return notices.Sent(retry=True, error=str(exc))
    except UncertainError as exc:
        return notices.Sent(uncertain=True, error=str(exc))
    except RejectedError as exc:
        return notices.Sent(error=str(exc))
    return notices.Sent(delivered=True, sid=sid)
