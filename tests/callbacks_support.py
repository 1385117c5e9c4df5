"""Shared set-up for the callbacks tests: all-day calling hours, closed orders, extra agents."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dispatch import auth
from dispatch.audit import callbacks
from dispatch.models import Callback, Role
from dispatch.platform.actors import Actor

# Tests that are not about calling hours must not depend on the time of day they run at
# (a test module sets APP_SETTINGS = ALL_DAY; conftest's `app` applies it).
ALL_DAY = {"CALLING_HOURS_START": "00:00", "CALLING_HOURS_END": "24:00"}


def close_with(api, claim: str, *, provider: str = "SPR-HEAT", installer: int = 1, **sale: Any) -> int:
    """Sell, then have the provider close the order with `claim`; returns the order id."""
    order = api.sale(**sale)["work_orders"][0]
    if claim == "completed":
        response = api.close(order["id"], provider, installer)
    else:
        response = api.close(order["id"], provider, installer, outcome="not_completed", reason=claim)
    assert response.status_code == 200, response.get_json()
    return order["id"]


def callback_of(session, order_id: int) -> Callback:
    """The (latest) callback of an order, freshly loaded."""
    session.expire_all()
    return session.scalars(
        select(Callback).where(Callback.work_order_id == order_id).order_by(Callback.id.desc())
    ).first()


def exhaust_automated(session_factory, callback_id: int, cfg, status: str = "no-answer") -> list[str]:
    """Let every automated attempt end unanswered, each at its due time; returns the channels used."""
    used = []
    for n in range(50):
        with session_factory() as session:
            cb = session.get(Callback, callback_id)
            if cb.state != "scheduled":
                return used
            attempt_id = callbacks.start_attempt(session, cb.id, cb.next_channel, cb.due_at, cfg)
            assert attempt_id is not None
            used.append(cb.next_channel)
            callbacks.attempt_placed(session, attempt_id, f"SM{callback_id}x{n}")
            session.commit()
            callbacks.attempt_status(session, f"SM{callback_id}x{n}", status, None, cfg)
            session.commit()
    raise AssertionError("never reached the human queue")


def new_agent(session_factory, name: str) -> tuple[Actor, str]:
    """Another callback-team user with a token."""
    with session_factory() as session:
        user = auth.create_user(session, Actor.system("test"), name=name, role=Role.CALLBACK.value)
        token = auth.issue_token(session, Actor.system("test"), user, label="test")
        session.commit()
        return Actor(user_id=user.id, role=Role.CALLBACK.value, name=name), token


def agent_actor(session_factory, name: str = "demo-callback") -> Actor:
    """The Actor of an existing user (for domain calls beside the API)."""
    from dispatch.models import User

    with session_factory() as session:
        user = session.scalars(select(User).where(User.name == name)).one()
        return Actor(user_id=user.id, role=user.role, provider_id=user.provider_id, name=user.name)
