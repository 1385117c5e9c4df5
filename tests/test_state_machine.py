"""The one work-order state machine: every allowed move works and is audited, every other is a 409."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from dispatch.audit import trail
from dispatch.models import AuditEvent, OrderState, Unit, User, WorkOrder
from dispatch.orders import machine
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Conflict
from tests.helpers import future_window

STATES: list[OrderState | None] = [None, *OrderState]

# What issue 2 itself asks of the machine, written out independently of TRANSITIONS.
REQUIRED = [
    ("create", None, OrderState.UNASSIGNED),
    ("create", None, OrderState.PENDING),
    ("create", None, OrderState.BOOKED),
    ("assign", OrderState.UNASSIGNED, OrderState.PENDING),
    ("book", OrderState.PENDING, OrderState.BOOKED),
    ("book", OrderState.CLOSED_NOT_COMPLETED, OrderState.BOOKED),
    ("reschedule", OrderState.BOOKED, OrderState.BOOKED),
    ("close", OrderState.PENDING, OrderState.CLOSED_COMPLETED),
    ("close", OrderState.BOOKED, OrderState.CLOSED_COMPLETED),
    ("close", OrderState.BOOKED, OrderState.CLOSED_NOT_COMPLETED),
    ("cancel", OrderState.PENDING, OrderState.CANCELLED),
]
FORBIDDEN = [
    ("close", OrderState.CLOSED_COMPLETED, OrderState.CLOSED_COMPLETED),
    ("close", OrderState.CLOSED_NOT_COMPLETED, OrderState.CLOSED_COMPLETED),
    ("close", OrderState.UNASSIGNED, OrderState.CLOSED_COMPLETED),
    ("close", OrderState.CANCELLED, OrderState.CLOSED_COMPLETED),
    ("book", OrderState.CLOSED_COMPLETED, OrderState.BOOKED),
    ("book", OrderState.CANCELLED, OrderState.BOOKED),
    ("cancel", OrderState.CLOSED_COMPLETED, OrderState.CANCELLED),
    ("create", OrderState.PENDING, OrderState.PENDING),
]


@pytest.mark.parametrize(("action", "source", "target"), REQUIRED)
def test_the_moves_issue_2_needs_are_allowed(action, source, target):
    assert machine.allowed(action, source, target)


@pytest.mark.parametrize(("action", "source", "target"), FORBIDDEN)
def test_moves_that_would_rewrite_a_closed_record_are_not(action, source, target):
    assert not machine.allowed(action, source, target)


def test_every_transition_in_the_table_works_and_is_audited_and_every_other_is_a_conflict(api, session):
    unit = api.sale(serial="SM-1", delivery=False, installation=False)["units"][0]
    agent = session.scalars(select(User).where(User.name == "demo-agent")).one()
    actor = Actor(user_id=agent.id, role=agent.role, name=agent.name)
    row = session.get(Unit, unit["id"])
    allowed, refused = [], []
    for action, source, target in itertools.product(machine.TRANSITIONS, STATES, list(OrderState)):
        order = WorkOrder(
            kind="installation",
            state=source.value if source else None,
            unit_id=row.id,
            customer_id=row.customer_id,
            city_id=row.city_id,
            product_line_id=row.product_model.product_line_id,
            provider_id=1,
            created_by_id=agent.id,
        )
        session.add(order)
        if source is not None:
            session.flush()
        try:
            machine.transition(session, order, action, target, actor, {"case": f"{action}:{source}:{target}"})
        except Conflict as exc:
            refused.append((action, source, target))
            assert not machine.allowed(action, source, target)
            assert action in exc.message
            if source is None:
                session.expunge(order)
            else:
                assert order.state == source.value  # unchanged
            continue
        assert machine.allowed(action, source, target), (action, source, target)
        assert order.state == target.value
        allowed.append((order.id, action, source, target))
    session.commit()

    expected = {
        (a, s, t) for a, (sources, targets) in machine.TRANSITIONS.items() for s in sources for t in targets
    }
    assert {(a, s, t) for _, a, s, t in allowed} == expected
    assert len(refused) == len(machine.TRANSITIONS) * len(STATES) * len(OrderState) - len(expected)

    events = {
        e.entity_id: e
        for e in session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "work_order", AuditEvent.data["case"].isnot(None))
        )
    }
    assert len(events) == len(allowed)
    for order_id, action, source, target in allowed:
        event = events[order_id]
        assert (event.action, event.from_state, event.to_state) == (
            action,
            source.value if source else None,
            target.value,
        )
        assert (event.actor_user_id, event.actor) == (agent.id, actor.label)
        assert event.occurred_at is not None
    assert trail.verify_chain(session).ok


def test_a_refused_transition_through_the_api_leaves_no_event(api, session):
    order = api.sale()["work_orders"][0]
    assert api.close(order["id"], "SPR-HEAT", 1).status_code == 200
    before = session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq.desc())).first()
    assert api.close(order["id"], "SPR-HEAT", 1).status_code == 409
    assert api.post(f"/api/v1/work-orders/{order['id']}/cancel", "agent", {"reason": "x"}).status_code == 409
    session.expire_all()
    assert session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq.desc())).first() == before


def test_every_api_transition_names_its_actor(api, session):
    order = api.sale(who="agent", appointment=None)["work_orders"][0]
    # Not the shop: an order keyed in by the hotline is not a shop's to move (a 404 to sales).
    api.put(f"/api/v1/work-orders/{order['id']}/appointment", "supervisor", {"window": future_window()})
    api.close(order["id"], "SPR-HEAT", 1, outcome="not_completed", reason="parts_missing")
    events = trail.history(session, "work_order", order["id"])
    assert [(e.action, e.actor.split(" ", 1)[1]) for e in events if e.action in machine.TRANSITIONS] == [
        ("create", "demo-agent (agent)"),
        ("book", "demo-supervisor (supervisor)"),
        ("close", "demo-provider-SPR-HEAT (provider)"),
    ]
