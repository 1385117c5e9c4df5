"""Maintenance invitations through the contact core: requested once per cycle, composed at send
time, and the customer's yes that books a routed maintenance work order."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dispatch import outreach
from dispatch.care import texts
from dispatch.models import (
    CustomerMessage,
    InvitationState,
    MaintenanceInvitation,
    OrderKind,
    Unit,
    User,
    WorkOrder,
    utcnow,
)
from dispatch.orders import booking
from dispatch.orders.machine import OPEN_STATES
from dispatch.outreach import composers, replies
from dispatch.platform.actors import Actor

INVITE_PURPOSE = "maintenance_invite"
SYSTEM = Actor.system("maintenance")
# The user named as the creator of the maintenance orders customers book by text (inactive: it
# can never sign in or hold a token; the audit trail names the customer's reply as the actor).
BOOKER_NAME = "system-care"
# The hotline's request for a reply to an invitation that is not a clear yes.
REPLY_FOR_A_PERSON = "maintenance_reply"


def invite_pending(session: Session, *, batch: int = 200) -> int:
    """Ask the contact core to send the recorded invitations not yet requested; returns how many.

    Taken with SKIP LOCKED so that two passes share the work; each message is keyed per unit per
    plan per cycle, so it is requested once however many passes run.
    """
    rows = session.scalars(
        select(MaintenanceInvitation)
        .where(MaintenanceInvitation.message_id.is_(None))
        .order_by(MaintenanceInvitation.id)
        .limit(batch)
        .with_for_update(skip_locked=True, of=MaintenanceInvitation)
    ).all()
    for invitation in rows:
        key = f"maintenance:{invitation.unit_id}:{invitation.plan_id}:{invitation.due_on.isoformat()}"
        message = outreach.queue(
            session,
            SYSTEM,
            customer_id=invitation.customer_id,
            purpose=INVITE_PURPOSE,
            transactional=False,
            dedupe_key=key,
            unit_id=invitation.unit_id,
            params={"invitation_id": invitation.id},
        )
        if message is None:  # requested by a pass that did not record it: find it by its key
            message_id = session.scalar(select(CustomerMessage.id).where(CustomerMessage.dedupe_key == key))
        else:
            message_id = message.id
        invitation.message_id = message_id
    session.flush()
    return len(rows)


def _open_order(session: Session, unit_id: int, plan_id: int) -> WorkOrder | None:
    return session.scalars(
        select(WorkOrder).where(
            WorkOrder.unit_id == unit_id,
            WorkOrder.maintenance_plan_id == plan_id,
            WorkOrder.state.in_([s.value for s in OPEN_STATES]),
        )
    ).first()


def compose_invitation(session: Session, message: CustomerMessage, language: str) -> str | None:
    """The invitation's text at send time, or None (superseded) when it no longer applies."""
    invitation = session.get(MaintenanceInvitation, (message.params or {}).get("invitation_id"))
    if invitation is None:
        composers.superseded(message, "the invitation no longer exists")
        return None
    plan = invitation.plan
    if not plan.active:
        composers.superseded(message, f"maintenance plan {plan.code} was retired")
        return None
    if invitation.state == InvitationState.BOOKED or _open_order(session, invitation.unit_id, plan.id):
        composers.superseded(message, "a maintenance visit of this plan is already open")
        return None
    unit = session.get(Unit, invitation.unit_id)
    if unit is None:
        composers.superseded(message, "the unit is no longer registered")
        return None
    return texts.invitation(
        language,
        plan=str((plan.names or {}).get(language) or plan.name),
        model=unit.product_model.name,
        due_on=invitation.due_on,
    )


def _booker(session: Session) -> Actor:
    session.execute(
        text(
            "INSERT INTO users (name, role, active, created_at) VALUES (:name, 'agent', false, :now)"
            " ON CONFLICT (name) DO NOTHING"
        ),
        {"name": BOOKER_NAME, "now": utcnow()},
    )
    user_id = session.scalar(select(User.id).where(User.name == BOOKER_NAME))
    return Actor(user_id=user_id, role="system", name="customer's yes to a maintenance invitation")


def answer_invitation(session: Session, message: CustomerMessage, reply: str) -> str | None:
    """A reply to an invitation: a yes books a routed maintenance order (once per cycle)."""
    language = message.language or "en"
    if not texts.is_yes(reply):
        # Anything but a clear yes is for a person (the hotline's queue), never guessed at.
        outreach.requests.add(
            session,
            customer_id=message.customer_id,
            kind=REPLY_FOR_A_PERSON,
            message_id=message.id,
            words=reply,
        )
        return texts.not_understood(language)
    invitation = session.get(
        MaintenanceInvitation,
        (message.params or {}).get("invitation_id"),
        with_for_update={"of": MaintenanceInvitation},
    )
    if invitation is None:
        return None
    if invitation.work_order_id is not None:
        return texts.already_booked(language, order_id=invitation.work_order_id)
    existing = _open_order(session, invitation.unit_id, invitation.plan_id)
    if existing is not None:
        return texts.already_booked(language, order_id=existing.id)
    unit = session.get(Unit, invitation.unit_id)
    if unit is None:
        return None
    order = booking.new_order(
        session,
        _booker(session),
        unit=unit,
        kind=OrderKind.MAINTENANCE,
        window=None,  # no time yet: the provider (or the hotline) agrees it with the customer
        extra={"maintenance_plan_id": invitation.plan_id},
    )
    invitation.state = InvitationState.BOOKED.value
    invitation.work_order_id = order.id
    session.flush()
    return texts.booked(language, order_id=order.id, provider=order.provider.name if order.provider else None)


composers.register(INVITE_PURPOSE, compose_invitation)
replies.register(INVITE_PURPOSE, answer_invitation)
