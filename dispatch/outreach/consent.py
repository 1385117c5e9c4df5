"""Consent and refusal: one record for every channel, with its evidence.

A number that said STOP (or 退订, TD, ...) by text, or refused on a call or to the hotline, gets no
automated call or text on any channel until it says START. `opt_outs` holds the current refusal
(one row per number; kept as the number's keyed digest after an erasure); `contact_consents`
keeps the evidence of each refusal and consent: the words, the channel, the time, the message sid.
The verification callbacks (dispatch/audit/callbacks/optout.py) read and write this same record.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.models import ContactConsent, ContactEvent, ContactEventKind, Customer, OptOut, utcnow
from dispatch.platform import personal
from dispatch.platform.actors import Actor

SYSTEM = Actor.system("outreach")


def refusal_of(session: Session, phone_e164: str, settings: Mapping[str, Any]) -> OptOut | None:
    """The standing refusal of this number (also one kept as a digest after an erasure), or None."""
    phone_hash = personal.digest(phone_e164, settings)
    return session.scalars(
        select(OptOut).where(or_(OptOut.phone == phone_e164, OptOut.phone_hash == phone_hash)).limit(1)
    ).first()


def is_opted_out(session: Session, phone_e164: str, settings: Mapping[str, Any]) -> bool:
    """Whether this number asked for no more automated calls or texts (on any channel)."""
    return refusal_of(session, phone_e164, settings) is not None


def _evidence(
    session: Session,
    phone_e164: str,
    *,
    consented: bool,
    keyword: str,
    words: str | None,
    channel: str,
    message_sid: str | None,
    at: datetime,
    settings: Mapping[str, Any],
) -> None:
    customer_id = session.scalar(select(Customer.id).where(Customer.phone == phone_e164))
    session.add(
        ContactConsent(
            phone=phone_e164,
            phone_hash=personal.digest(phone_e164, settings),
            customer_id=customer_id,
            consented=consented,
            keyword=keyword[:20],
            words=(words or "")[:320] or None,
            channel=channel[:20],
            message_sid=message_sid,
            at=at,
        )
    )
    if customer_id is not None:
        kind = ContactEventKind.OPTED_IN if consented else ContactEventKind.OPTED_OUT
        session.add(
            ContactEvent(
                customer_id=customer_id,
                kind=kind.value,
                channel=channel[:16],
                reason=f"{keyword} by {channel}",
                at=at,
            )
        )


def refuse(
    session: Session,
    phone_e164: str,
    *,
    channel: str,
    settings: Mapping[str, Any],
    keyword: str = "STOP",
    words: str | None = None,
    message_sid: str | None = None,
) -> bool:
    """The number refused automated contact (STOP): kept with its evidence; True if it is new."""
    now = utcnow()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    phone_hash = personal.digest(phone_e164, settings)
    # The same number said STOP before its customer was erased: the refusal gets its number back.
    session.execute(
        update(OptOut).where(OptOut.phone_hash == phone_hash, OptOut.phone.is_(None)).values(phone=phone_e164)
    )
    source = f"{channel}:{keyword}"[:40]
    row = session.execute(
        insert(OptOut)
        .values(phone=phone_e164, phone_hash=phone_hash, source=source, created_at=now)
        .on_conflict_do_nothing()
        .returning(OptOut.id)
    ).first()
    _evidence(
        session,
        phone_e164,
        consented=False,
        keyword=keyword,
        words=words,
        channel=channel,
        message_sid=message_sid,
        at=now,
        settings=settings,
    )
    if row is not None:
        # The trail can never be erased: the number only as its keyed digest (personal.py).
        trail.record(
            session, SYSTEM, "opt_out", row.id, "opted_out", data={"phone_hash": phone_hash, "source": source}
        )
    session.flush()
    return row is not None


def consent(
    session: Session,
    phone_e164: str,
    *,
    channel: str,
    settings: Mapping[str, Any],
    keyword: str = "START",
    words: str | None = None,
    message_sid: str | None = None,
) -> bool:
    """START / UNSTOP: automated contact allowed again, with its evidence; True if a refusal ended."""
    phone_hash = personal.digest(phone_e164, settings)
    row = session.scalars(
        select(OptOut)
        .where(or_(OptOut.phone == phone_e164, OptOut.phone_hash == phone_hash))
        .with_for_update()
    ).first()
    now = utcnow()
    _evidence(
        session,
        phone_e164,
        consented=True,
        keyword=keyword,
        words=words,
        channel=channel,
        message_sid=message_sid,
        at=now,
        settings=settings,
    )
    if row is None:
        session.flush()
        return False
    trail.record(
        session,
        SYSTEM,
        "opt_out",
        row.id,
        "opted_in",
        data={"phone_hash": phone_hash, "source": f"{channel}:{keyword}"[:40]},
    )
    session.delete(row)
    session.flush()
    return True


def evidence_of(session: Session, phone_e164: str, settings: Mapping[str, Any]) -> list[ContactConsent]:
    """Every refusal and consent of this number, oldest first (also those kept as a digest)."""
    phone_hash = personal.digest(phone_e164, settings)
    return list(
        session.scalars(
            select(ContactConsent)
            .where(or_(ContactConsent.phone == phone_e164, ContactConsent.phone_hash == phone_hash))
            .order_by(ContactConsent.at, ContactConsent.id)
        )
    )
