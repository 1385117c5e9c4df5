"""Booking a pending order, rescheduling a booked one, re-booking a failed visit; reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dispatch import notices
from dispatch.models import AuditEvent, OutboxMessage, WorkOrder
from tests.helpers import future_window


def _book(api, order_id: int, window: dict, who: str = "agent"):
    return api.put(f"/api/v1/work-orders/{order_id}/appointment", who, {"window": window})


def _history(api, order_id: int) -> list[dict]:
    return api.get(f"/api/v1/work-orders/{order_id}", "supervisor").get_json()["history"]


def _reminders(session, order_id: int) -> list[OutboxMessage]:
    session.expire_all()
    return [
        row
        for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        if row.payload.get("work_order_id") == order_id
    ]


@pytest.fixture
def pending(api) -> dict:
    order = api.sale()["work_orders"][0]
    assert order["state"] == "pending"
    return order


def test_booking_a_pending_order_books_it(api, pending):
    window = future_window(days=4)
    response = _book(api, pending["id"], window)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["state"] == "booked"
    assert datetime.fromisoformat(body["appointment"]["start"]) == datetime.fromisoformat(window["start"])
    assert [(e["action"], e["from_state"], e["to_state"]) for e in _history(api, pending["id"])] == [
        ("create", None, "pending"),
        ("book", "pending", "booked"),
    ]


def test_rescheduling_keeps_every_window_in_the_history(api, pending):
    first, second = future_window(days=4), future_window(days=6, hours=2)
    assert _book(api, pending["id"], first).status_code == 200
    response = _book(api, pending["id"], second, who="sales")
    assert response.status_code == 200 and response.get_json()["state"] == "booked"
    history = _history(api, pending["id"])
    assert [(e["action"], e["from_state"], e["to_state"]) for e in history] == [
        ("create", None, "pending"),
        ("book", "pending", "booked"),
        ("reschedule", "booked", "booked"),
    ]
    as_time = datetime.fromisoformat
    assert as_time(history[1]["data"]["appointment_start"]) == as_time(first["start"])
    assert as_time(history[2]["data"]["before"]["appointment_start"]) == as_time(first["start"])
    assert as_time(history[2]["data"]["appointment_start"]) == as_time(second["start"])
    assert as_time(history[2]["data"]["appointment_end"]) == as_time(second["end"])
    assert history[2]["actor"].endswith("(sales)")


def test_a_naive_window_is_the_customers_local_time(api, pending):
    year = datetime.now(UTC).year + 1
    window = {"start": f"{year}-01-20T13:00:00", "end": f"{year}-01-20T17:00:00"}
    appointment = _book(api, pending["id"], window).get_json()["appointment"]
    assert datetime.fromisoformat(appointment["start"]) == datetime(year, 1, 20, 19, tzinfo=UTC)
    assert appointment["local_end"] == f"{year}-01-20T17:00:00-06:00"


def test_a_visit_that_failed_can_be_booked_again(api, pending):
    assert _book(api, pending["id"], future_window(days=2)).status_code == 200
    failed = api.close(pending["id"], "SPR-HEAT", 1, outcome="not_completed", reason="customer_rescheduled")
    assert failed.status_code == 200
    again = _book(api, pending["id"], future_window(days=5))
    assert again.status_code == 200 and again.get_json()["state"] == "booked"
    assert [(e["action"], e["to_state"]) for e in _history(api, pending["id"])][-2:] == [
        ("close", "closed_not_completed"),
        ("book", "booked"),
    ]
    # The new visit can be closed; the first one stays on record.
    done = api.close(pending["id"], "SPR-HEAT", 2)
    assert [v["outcome"] for v in done.get_json()["visits"]] == ["not_completed", "completed"]


def test_a_completed_order_cannot_be_booked(api, pending, session):
    assert api.close(pending["id"], "SPR-HEAT", 1).status_code == 200
    response = _book(api, pending["id"], future_window())
    assert response.status_code == 409
    session.expire_all()
    order = session.get(WorkOrder, pending["id"])
    assert (order.state, order.appointment_start) == ("closed_completed", None)


@pytest.mark.parametrize(
    ("shift", "field"),
    [((-3, -2), "window.start"), ((5, 4), "window.end"), ((5, 50), "window.end")],
)
def test_a_bad_window_is_named_and_nothing_changes(api, pending, session, shift, field):
    now = datetime.now(UTC)
    window = {
        "start": (now + timedelta(hours=shift[0])).isoformat(),
        "end": (now + timedelta(hours=shift[1])).isoformat(),
    }
    response = _book(api, pending["id"], window)
    assert response.status_code == 422 and list(response.get_json()["errors"]) == [field]
    assert len(_history(api, pending["id"])) == 1
    assert _reminders(session, pending["id"]) == []


def test_a_window_must_be_complete_and_well_formed(api, pending):
    response = _book(api, pending["id"], {"start": "2031-01-01T10:00:00", "end": "soon"})
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["window.end"]
    response = api.put(f"/api/v1/work-orders/{pending['id']}/appointment", "agent", {})
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["window"]


def test_only_agents_and_sales_book(api, pending):
    for who in ("provider:SPR-HEAT", "callback", "supervisor"):
        assert _book(api, pending["id"], future_window(), who=who).status_code == 403
    assert _book(api, 9999, future_window()).status_code == 404


def test_booking_an_unassigned_order_keeps_it_unassigned_with_its_date(api):
    order = api.sale(city="Bayview")["work_orders"][0]
    response = _book(api, order["id"], future_window())
    assert (response.status_code, response.get_json()["state"]) == (200, "unassigned")
    assert response.get_json()["appointment"] is not None


def test_each_booking_plans_one_reminder_of_its_own(api, pending, session):
    t1, t2 = future_window(days=4), future_window(days=6)
    _book(api, pending["id"], t1)
    _book(api, pending["id"], t2)
    _book(api, pending["id"], t1)  # back to the first time: still needs its own reminder
    rows = _reminders(session, pending["id"])
    assert len(rows) == 3
    assert len({r.dedupe_key for r in rows}) == 3
    assert [datetime.fromisoformat(r.payload["appointment_start"]) for r in rows] == [
        datetime.fromisoformat(w["start"]) for w in (t1, t2, t1)
    ]
    # Due ahead of the appointment by the configured lead time (18 hours by default).
    assert rows[1].available_at == datetime.fromisoformat(t2["start"]) - timedelta(hours=18)


def test_a_reminder_runs_once_and_only_for_the_current_appointment(api, pending, session):
    t1, t2 = future_window(days=4), future_window(days=6)
    _book(api, pending["id"], t1)
    _book(api, pending["id"], t2)
    stale, current = _reminders(session, pending["id"])
    # The job for the old time finds the order moved and does nothing.
    assert notices.remind_provider(session, **stale.payload) is False
    assert notices.remind_provider(session, **current.payload) is True
    session.commit()
    assert notices.remind_provider(session, **current.payload) is False  # run twice: once only
    session.commit()
    reminded = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "provider_reminded", AuditEvent.entity_id == pending["id"]
        )
    ).all()
    assert len(reminded) == 1
    assert datetime.fromisoformat(reminded[0].data["appointment_start"]) == datetime.fromisoformat(
        t2["start"]
    )
