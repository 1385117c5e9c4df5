"""The domain behind the callback console: Next (claim_next) under concurrency, not reached with a
reason, the team's live list."""

from __future__ import annotations

import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from dispatch.audit import callbacks, trail
from dispatch.models import Callback, ContactAttempt, utcnow
from dispatch.platform.errors import Invalid
from tests.callbacks_support import (
    ALL_DAY,
    agent_actor,
    callback_of,
    close_with,
    exhaust_automated,
    new_agent,
)

APP_SETTINGS = ALL_DAY

PHONES = ["+1 217 555 0101", "+1 217 555 0102", "+1 217 555 0103", "+1 217 555 0104"]


def _queue(api, session_factory, cfg, claim: str = "customer_not_home", phone: str = PHONES[0]) -> int:
    order_id = close_with(api, claim, phone=phone, name=f"Customer {phone[-4:]}")
    with session_factory() as session:
        cb_id = callback_of(session, order_id).id
    exhaust_automated(session_factory, cb_id, cfg)
    return cb_id


def test_next_takes_the_most_important_first_and_again_the_one_held(api, session_factory, cfg):
    completed = _queue(api, session_factory, cfg, "completed", PHONES[0])
    not_home = _queue(api, session_factory, cfg, "customer_not_home", PHONES[1])
    me = agent_actor(session_factory)
    with session_factory() as session:
        first = callbacks.claim_next(session, me, cfg)
        session.commit()
        assert first.id == not_home  # a "not home" claim outranks a completed one
        again = callbacks.claim_next(session, me, cfg)  # Next pressed twice: the same callback
        session.commit()
        assert again.id == not_home
        assert callbacks.my_lease(session, me).id == not_home
        assert session.get(Callback, completed).state == "human_queue"
        actions = [e.action for e in trail.history(session, "callback", not_home)]
        assert actions.count("claimed") == 1 and actions[-1] == "claimed"


def test_next_skips_customers_outside_calling_hours(api, session_factory, cfg):
    _queue(api, session_factory, cfg)
    me = agent_actor(session_factory)
    # Calling hours that are over everywhere right now (an hour-long window twelve hours away).
    hour = (utcnow().astimezone(ZoneInfo("America/Chicago")).hour + 12) % 24
    night = {**cfg, "CALLING_HOURS_START": f"{hour:02d}:00", "CALLING_HOURS_END": f"{hour:02d}:59"}
    with session_factory() as session:
        assert callbacks.claim_next(session, me, night) is None
        board = callbacks.team_board(session, me, night)
        assert board.waiting_total == 1 and not board.waiting[0].callable_now


def test_two_agents_pressing_next_at_once_get_different_callbacks(api, session_factory, cfg):
    ids = {_queue(api, session_factory, cfg, phone=phone) for phone in PHONES[:2]}
    agents = [agent_actor(session_factory), new_agent(session_factory, "Bo Caller")[0]]
    # Both transactions take their callback before either commits: without SKIP LOCKED the second
    # would wait for the first one's row lock, and the barrier would never be passed.
    barrier = threading.Barrier(2, timeout=15)
    got: dict[int, int | None] = {}

    def press_next(agent) -> None:
        with session_factory() as session:
            found = callbacks.claim_next(session, agent, cfg)
            barrier.wait()
            session.commit()
            got[agent.user_id] = found.id if found else None

    threads = [threading.Thread(target=press_next, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert set(got.values()) == ids
    with session_factory() as session:
        holders = {cb.lease_holder_id for cb in session.scalars(select(Callback).where(Callback.id.in_(ids)))}
        assert holders == {a.user_id for a in agents}


def test_an_expired_lease_is_free_for_next(api, session_factory, cfg):
    cb_id = _queue(api, session_factory, cfg)
    me = agent_actor(session_factory)
    other, _token = new_agent(session_factory, "Bo Caller")
    with session_factory() as session:
        callbacks.claim_next(session, other, cfg)
        session.commit()
        assert callbacks.claim_next(session, me, cfg) is None  # held by Bo
        session.execute(update(Callback).values(lease_until=utcnow() - timedelta(seconds=1)))
        session.commit()
        assert callbacks.claim_next(session, me, cfg).id == cb_id
        session.commit()
        assert "lease_taken_over" in [e.action for e in trail.history(session, "callback", cb_id)]


def test_not_reached_reasons(api, session_factory, cfg):
    cb_id = _queue(api, session_factory, cfg)
    me = agent_actor(session_factory)
    chicago = ZoneInfo("America/Chicago")
    with session_factory() as session:
        callbacks.claim_next(session, me, cfg)
        with pytest.raises(Invalid) as missing:
            callbacks.not_reached(session, me, cb_id, reason="call_later", settings=cfg)
        assert "call_at" in missing.value.fields
        with pytest.raises(Invalid):
            callbacks.not_reached(session, me, cb_id, reason="gone fishing", settings=cfg)
        with pytest.raises(Invalid):  # too far ahead
            callbacks.not_reached(
                session, me, cb_id, reason="call_later", call_at=utcnow() + timedelta(days=30), settings=cfg
            )
        later = (
            (utcnow() + timedelta(days=1))
            .astimezone(chicago)
            .replace(hour=15, minute=0, second=0, microsecond=0)
        )
        cb = callbacks.not_reached(
            session, me, cb_id, reason="call_later", call_at=later, note="after work", settings=cfg
        )
        session.commit()
        assert (cb.state, cb.human_attempts, cb.due_at, cb.lease_holder_id) == ("human_queue", 0, later, None)
        event = trail.history(session, "callback", cb_id)[-2]
        assert (event.action, event.data["reason"]) == ("not_reached", "call_later")
        assert "after work" not in str(event.data)  # the note stays on the attempt (erasable)

        session.execute(update(Callback).where(Callback.id == cb_id).values(due_at=utcnow()))
        session.commit()
        for n, reason in enumerate(["wrong_number", "no_answer", "no_answer"], start=1):
            callbacks.claim_next(session, me, cfg)
            cb = callbacks.not_reached(session, me, cb_id, reason=reason, settings=cfg)
            session.commit()
            assert cb.human_attempts == n
            session.execute(
                update(Callback)
                .where(Callback.id == cb_id, Callback.state == "human_queue")
                .values(due_at=utcnow())
            )
            session.commit()
        assert (cb.state, cb.verdict) == ("resolved", "unreachable")  # confirms nothing
        reasons = [
            a.status_history[-1]["reason"]
            for a in session.scalars(
                select(ContactAttempt).where(
                    ContactAttempt.callback_id == cb_id, ContactAttempt.channel == "human"
                )
            )
        ]
        assert reasons == ["call_later", "wrong_number", "no_answer", "no_answer"]


def test_the_board_shows_holders_and_the_ranked_waiting_list(api, session_factory, cfg):
    first = _queue(api, session_factory, cfg, "customer_not_home", PHONES[0])
    second = _queue(api, session_factory, cfg, "completed", PHONES[1])
    me = agent_actor(session_factory)
    other, _token = new_agent(session_factory, "Bo Caller")
    with session_factory() as session:
        callbacks.claim_next(session, other, cfg)
        session.commit()
        board = callbacks.team_board(session, me, cfg)
        assert [(r.callback.id, r.holder, r.mine) for r in board.held] == [(first, "Bo Caller", False)]
        assert [r.callback.id for r in board.waiting] == [second] and board.waiting_total == 1
