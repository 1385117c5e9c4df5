"""Maintenance coming due, under a controlled clock: counted from installation or the last
maintenance, invited inside the horizon once per cycle, past due after the window; a yes books a
routed maintenance order; plans managed by supervisors through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from dispatch import outreach
from dispatch.care import invitations, maintenance, plans
from dispatch.models import (
    AuditEvent,
    Customer,
    CustomerMessage,
    MaintenanceInvitation,
    MaintenancePlan,
    WorkOrder,
)
from dispatch.platform.actors import Actor
from dispatch.platform.config import ConfigError, load_settings
from tests.care_support import Z, done_visit, owner

BOSS = Actor.system("test")


@pytest.fixture
def plan(api, session) -> MaintenancePlan:
    """Gas water heaters: cleaned every 12 months, invited 21 days ahead, past due 30 days after."""
    made = plans.upsert_plan(
        session,
        BOSS,
        code="gas-clean",
        name="tank cleaning",
        names={"zh-CN": "水箱清洗"},
        product_line="gas_wh",
        interval_months=12,
        invite_days=21,
        window_days=30,
    )
    session.commit()
    return made


def _retire(session) -> None:
    """The supervisor retires the gas plan."""
    plans.upsert_plan(
        session,
        BOSS,
        code="gas-clean",
        name="tank cleaning",
        product_line="gas_wh",
        interval_months=12,
        active=False,
    )


def _invited(session) -> list[tuple[int, str]]:
    rows = session.execute(
        select(MaintenanceInvitation.unit_id, MaintenanceInvitation.due_on).order_by(
            MaintenanceInvitation.unit_id
        )
    )
    return [(unit_id, due.isoformat()) for unit_id, due in rows]


def _scan(session, at) -> int | None:
    recorded = maintenance.record_due(session, now=at)
    session.commit()
    return recorded


def test_the_due_query_counts_from_installation_or_the_last_maintenance(plan, session):
    bought = owner(session, bought=Z(2030, 1, 10, 12))  # due 10 Jan 2031
    installed = owner(session, bought=Z(2029, 11, 1, 12))  # bought earlier, installed later:
    done_visit(session, installed, "installation", Z(2030, 1, 20, 15))  # due 20 Jan 2031
    maintained = owner(session, bought=Z(2029, 1, 5, 12))  # last cleaned 15 Jan 2030: due 15 Jan 2031
    done_visit(session, maintained, "maintenance", Z(2030, 1, 15, 9), plan_id=plan.id)
    cleaned_later = owner(session, bought=Z(2029, 1, 5, 12))  # cleaned in June: not due this winter
    done_visit(session, cleaned_later, "maintenance", Z(2030, 6, 1, 9), plan_id=plan.id)
    electric = owner(session, model="EW-50", bought=Z(2030, 1, 10, 12))  # no plan for its line
    session.commit()

    # 26 days before the first due date: outside every horizon (21 days).
    assert _scan(session, Z(2030, 12, 15, 3)) == 0
    # Inside the horizon of the first three (their due dates name the cycle), not of the rest.
    assert _scan(session, Z(2030, 12, 31, 3)) == 3
    assert _invited(session) == [
        (bought.id, "2031-01-10"),
        (installed.id, "2031-01-20"),
        (maintained.id, "2031-01-15"),
    ]
    assert cleaned_later.id not in dict(_invited(session)) and electric.id not in dict(_invited(session))


def test_one_invitation_per_unit_per_cycle_however_often_it_runs(plan, session):
    unit = owner(session, bought=Z(2030, 1, 10, 12))
    session.commit()
    assert _scan(session, Z(2030, 12, 25, 3)) == 1
    for day in (26, 27, 31):  # the next days' passes, and a second scheduler's
        assert _scan(session, Z(2030, 12, day, 3)) == 0
    assert _scan(session, Z(2031, 1, 12, 3)) == 0  # due, inside the window: already invited
    # The unit is maintained: the next cycle counts from that visit, and is invited in its time.
    done_visit(session, unit, "maintenance", Z(2031, 1, 20, 10), plan_id=plan.id)
    session.commit()
    assert _scan(session, Z(2031, 12, 20, 3)) == 0
    assert _scan(session, Z(2031, 12, 31, 3)) == 1
    assert _invited(session) == [(unit.id, "2031-01-10"), (unit.id, "2032-01-20")]


def test_past_due_after_the_window_is_listed_for_the_hotline_not_invited(plan, session, api):
    late = owner(session, bought=Z(2030, 1, 10, 12), name="Late Larry")  # due 10 Jan 2031
    owner(session, bought=Z(2030, 4, 1, 12))  # due 1 Apr 2031: neither past due nor invited yet
    session.commit()
    at = Z(2031, 2, 10, 3)  # 31 days after the first due date: past its 30-day window
    assert _scan(session, at) == 0  # too late to invite: the hotline calls instead
    items, total = maintenance.past_due(session, now=at)
    assert total == 1
    assert [(i.unit_id, i.customer_name, i.due_on.isoformat(), i.days_overdue, i.invited) for i in items] == [
        (late.id, "Late Larry", "2031-01-10", 30, False)
    ]
    # An open maintenance order for it takes it off the list.
    order = done_visit(session, late, "maintenance", Z(2031, 2, 9), plan_id=plan.id)
    order.state = "pending"
    session.commit()
    assert maintenance.past_due(session, now=at) == ([], 0)


def test_a_retired_plan_invites_nobody(plan, session):
    owner(session, bought=Z(2030, 1, 10, 12))
    _retire(session)
    session.commit()
    assert _scan(session, Z(2030, 12, 27, 3)) == 0


def test_supervisors_manage_plans_and_bad_fields_are_named(api, session):
    body = {"code": "boiler", "name": "boiler check", "product_line": "gas_boiler", "interval_months": 12}
    created = api.post("/api/v1/maintenance-plans", "supervisor", json=body)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["window_days"] == 30 and created.get_json()["invite_days"] == 21
    assert api.post("/api/v1/maintenance-plans", "agent", json=body).status_code == 403
    bad = api.post("/api/v1/maintenance-plans", "supervisor", json={**body, "interval_months": 0})
    assert bad.status_code == 422 and "interval_months" in str(bad.get_json())
    unknown = api.post("/api/v1/maintenance-plans", "supervisor", json={**body, "product_line": "kettles"})
    assert unknown.status_code == 422 and "product_line" in str(unknown.get_json())
    listed = api.get("/api/v1/maintenance-plans", "agent").get_json()
    assert [p["code"] for p in listed] == ["boiler"]
    assert session.scalar(select(func.count()).select_from(MaintenancePlan)) == 1


def test_the_hotline_reads_units_past_due_through_the_api(api, plan, session):
    owner(session, bought=Z(2020, 1, 10, 12), name="Ancient Annie")
    session.commit()
    answer = api.get("/api/v1/maintenance/past-due", "agent")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["total"] == 1 and body["items"][0]["customer_name"] == "Ancient Annie"
    assert body["items"][0]["days_overdue"] > 365 * 4
    assert api.get("/api/v1/maintenance/past-due", "provider:SPR-HEAT").status_code == 403


def _invite_and_send(session, cfg, at) -> dict[int, CustomerMessage]:
    """The daily pass at `at`, then each invitation sent as the sending job would (policy applied)."""
    settings = {**cfg, "CONTACT_QUIET_HOURS_START": "00:00", "CONTACT_QUIET_HOURS_END": "00:00"}
    with time_machine.travel(at, tick=False):
        maintenance.record_due(session, now=at)
        invitations.invite_pending(session)
        session.commit()
        sent = {}
        for message in session.scalars(
            select(CustomerMessage).where(CustomerMessage.purpose == "maintenance_invite")
        ):
            outgoing = outreach.sending.prepare(session, message.id, at, settings)
            if outgoing is not None:
                outreach.sending.sent(session, message.id, f"SM{message.id:032d}")
            sent[message.unit_id] = message
        session.commit()
    return sent


def test_a_yes_books_one_routed_maintenance_order(plan, session, cfg):
    english = owner(session, bought=Z(2030, 1, 10, 12))
    mandarin = owner(session, bought=Z(2030, 1, 10, 12), language="zh-CN")
    unsure = owner(session, bought=Z(2030, 1, 10, 12))
    session.commit()
    at = Z(2030, 12, 31, 16)  # 10:00 in Springfield
    sent = _invite_and_send(session, cfg, at)
    assert sent[english.id].status == "sent" and not sent[english.id].transactional
    assert "tank cleaning" in sent[english.id].body and "YES" in sent[english.id].body
    assert "水箱清洗" in sent[mandarin.id].body and "2031年1月10日" in sent[mandarin.id].body

    phones = {u.id: session.get(Customer, u.customer_id).phone for u in (english, mandarin)}
    with time_machine.travel(at + timedelta(hours=2), tick=False):
        took, answer = outreach.replies.reply_received(session, phones[english.id], "Yes!", cfg)
        session.commit()
        again, second = outreach.replies.reply_received(session, phones[english.id], "yes", cfg)
        session.commit()
        _, chinese = outreach.replies.reply_received(session, phones[mandarin.id], "是", cfg)
        session.commit()
        unsure_phone = session.get(Customer, unsure.customer_id).phone
        _, maybe = outreach.replies.reply_received(session, unsure_phone, "maybe after new year?", cfg)
        session.commit()
    orders = session.scalars(
        select(WorkOrder).where(WorkOrder.kind == "maintenance").order_by(WorkOrder.id)
    ).all()
    assert [(o.unit_id, o.state, o.provider.code, o.maintenance_plan_id) for o in orders] == [
        (english.id, "pending", "SPR-HEAT", plan.id),  # routed by coverage, as any order
        (mandarin.id, "pending", "SPR-HEAT", plan.id),
    ]
    assert took and answer is not None and f"order {orders[0].id}" in answer
    assert again and second is not None and "already booked" in second
    assert chinese is not None and "已为您预约保养" in chinese
    # Not a clear yes: no order, and a person reads it (the hotline's queue).
    assert maybe is not None and "YES" in maybe
    asked = outreach.requests.open_requests(session)
    assert [(r.customer_id, r.kind, r.words) for r in asked] == [
        (unsure.customer_id, "maintenance_reply", "maybe after new year?")
    ]
    created = session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "work_order", AuditEvent.action == "create")
    ).all()
    assert len(created) == 2  # audited like any order
    # A booked cycle is neither invited again nor past due; the unsure owner's unit will be.
    assert maintenance.record_due(session, now=Z(2031, 1, 5)) == 0
    late, total = maintenance.past_due(session, now=Z(2031, 3, 1))
    assert total == 1 and [(i.unit_id, i.invited) for i in late] == [(unsure.id, True)]


def test_an_invitation_no_longer_needed_is_superseded_at_send_time(plan, session, cfg):
    owner(session, bought=Z(2030, 1, 10, 12))
    session.commit()
    at = Z(2030, 12, 31, 16)
    with time_machine.travel(at, tick=False):
        maintenance.record_due(session, now=at)
        invitations.invite_pending(session)
        _retire(session)
        session.commit()
        message = session.scalars(select(CustomerMessage)).one()
        assert outreach.sending.prepare(session, message.id, at, cfg) is None
        session.commit()
    assert message.status == "superseded" and "retired" in (message.reason or "")


@pytest.mark.parametrize(
    ("key", "value"),
    [("CARE_SCAN_CRON", "every day at three"), ("CARE_SCAN_CRON", "61 3 * * *"), ("CARE_INVITE_BATCH", 0)],
)
def test_a_schedule_rq_cron_could_not_read_stops_start_up_naming_the_setting(key, value):
    with pytest.raises(ConfigError, match=key):
        load_settings({key: value}, webhooks=False)
    assert load_settings({"CARE_SCAN_CRON": "0 4 * * 1-5"}, webhooks=False)["CARE_SCAN_CRON"] == "0 4 * * 1-5"
