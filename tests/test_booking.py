"""Booking a pending order, rescheduling a booked one, re-booking a failed visit; the provider's
visit reminders follow the booking (tests/test_provider_notices.py tells the rest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dispatch import auth
from dispatch.audit import callbacks
from dispatch.models import AuditEvent, Callback, OutboxMessage, ProviderNotice, Sale, WorkOrder
from dispatch.platform.actors import Actor
from dispatch.telephony import make_gateway
from tests.helpers import future_window
from tests.notices_support import awake, run_due


def _book(api, order_id: int, window: dict, who: str = "agent"):
    return api.put(f"/api/v1/work-orders/{order_id}/appointment", who, {"window": window})


def _history(api, order_id: int) -> list[dict]:
    return api.get(f"/api/v1/work-orders/{order_id}", "supervisor").get_json()["history"]


def _changes(session, order_id: int) -> list[OutboxMessage]:
    session.expire_all()
    return [
        row
        for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        if row.job == "booking_changed" and row.payload.get("work_order_id") == order_id
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
    assert len(_changes(session, pending["id"])) == 1  # its creation only: nothing new to tell


def test_a_window_must_be_complete_and_well_formed(api, pending):
    response = _book(api, pending["id"], {"start": "2031-01-01T10:00:00", "end": "soon"})
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["window.end"]
    response = api.put(f"/api/v1/work-orders/{pending['id']}/appointment", "agent", {})
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["window"]


def test_the_hotline_headquarters_and_the_orders_shop_book_and_no_one_else(api, pending):
    for who in ("provider:SPR-HEAT", "callback", "admin"):
        assert _book(api, pending["id"], future_window(), who=who).status_code == 403
    for who in ("agent", "supervisor", "sales"):
        response = _book(api, pending["id"], future_window(days=2), who=who)
        assert response.status_code == 200, (who, response.get_json())
    assert _book(api, 9999, future_window()).status_code == 404


def test_booking_an_unassigned_order_keeps_it_unassigned_with_its_date(api):
    order = api.sale(city="Bayview")["work_orders"][0]
    response = _book(api, order["id"], future_window())
    assert (response.status_code, response.get_json()["state"]) == (200, "unassigned")
    assert response.get_json()["appointment"] is not None


def test_each_booking_is_told_once_as_a_version_of_its_own(api, pending, session):
    t1, t2 = future_window(days=4), future_window(days=6)
    _book(api, pending["id"], t1)
    _book(api, pending["id"], t2)
    _book(api, pending["id"], t1)  # back to the first time: still a booking of its own to tell
    rows = _changes(session, pending["id"])
    assert [(r.payload["booking_version"], r.payload["action"]) for r in rows] == [
        (1, "create"),
        (2, "book"),
        (3, "reschedule"),
        (4, "reschedule"),
    ]
    assert len({r.dedupe_key for r in rows}) == 4


def test_visit_reminders_follow_the_current_appointment_only_and_are_planned_once(
    api, pending, session, session_factory, cfg
):
    t1, t2 = future_window(days=4), future_window(days=6)
    _book(api, pending["id"], t1)
    _book(api, pending["id"], t2)
    phone = lambda: make_gateway(dict(cfg), lambda *_: None)  # noqa: E731 - the simulated network
    run_due(session_factory, awake(cfg), phone)
    run_due(session_factory, awake(cfg), phone)  # nothing is planned twice
    session.expire_all()
    reminders = session.scalars(
        select(ProviderNotice)
        .where(
            ProviderNotice.work_order_id == pending["id"], ProviderNotice.type == "work_order.visit_upcoming"
        )
        .order_by(ProviderNotice.id)
    ).all()
    # The first booking's job found the order moved on (version 3 stands): it planned nothing.
    assert {n.booking_version for n in reminders} == {3}
    start = datetime.fromisoformat(t2["start"])
    assert [(n.lead, n.due_at) for n in reminders][-1] == ("1h", start - timedelta(hours=1))
    assert {d.status for n in reminders for d in n.deliveries} == {"scheduled"}  # due later
    told = session.scalars(
        select(AuditEvent.data).where(
            AuditEvent.action == "provider_notified", AuditEvent.entity_id == pending["id"]
        )
    ).all()
    # Told once: the first it hears of the order is that it is routed to it, as it now stands.
    assert [e["type"] for e in told] == ["work_order.routed"]


# --- shop staff: only the orders of their own sales (issue 11, hole 1) -------------------------

CUSTOMER = {"name": "Quincy Privatefield", "phone": "+1 217 555 0163", "address": "7 Hidden Lane"}
CUSTOMER_TRACES = (CUSTOMER["name"], "+12175550163", "555 0163", CUSTOMER["address"])


@pytest.fixture
def other_shop(api, session_factory) -> str:
    """A second shop's sales user; returns the name its token is kept under in `api`."""
    with session_factory() as session:
        user = auth.create_user(session, Actor.system("test"), name="demo-sales-east", role="sales")
        api.tokens[user.name] = auth.issue_token(session, Actor.system("test"), user)
        session.commit()
    return "sales-east"


def _state(api, order_id: int) -> tuple:
    """What a refused call must leave untouched: the order as headquarters reads it."""
    order = api.get(f"/api/v1/work-orders/{order_id}", "supervisor").get_json()
    return order["state"], order["appointment"], len(order["history"])


def test_another_shop_gets_404_for_any_order_and_learns_nothing(api, session, other_shop):
    pending = api.sale(**CUSTOMER)["work_orders"][0]
    booked = api.sale(**{**CUSTOMER, "phone": "+1 217 555 0164"}, appointment=future_window())
    booked = booked["work_orders"][0]
    unknown = _book(api, 9999, future_window(), who=other_shop)
    assert unknown.status_code == 404
    for order in (pending, booked):
        before, changes = _state(api, order["id"]), len(_changes(session, order["id"]))
        response = _book(api, order["id"], future_window(days=5), who=other_shop)
        assert response.status_code == 404
        # The same answer as for an order that does not exist (but for the id it names).
        assert response.get_json() == {
            **unknown.get_json(),
            "message": unknown.get_json()["message"].replace("9999", str(order["id"])),
        }
        body = response.get_data(as_text=True)
        assert not [trace for trace in CUSTOMER_TRACES if trace in body]
        assert _state(api, order["id"]) == before
        assert len(_changes(session, order["id"])) == changes
    # The shop that reported the sale still may.
    assert _book(api, pending["id"], future_window(days=5), who="sales").status_code == 200


def test_shop_staff_get_their_order_back_without_the_customer(api):
    order = api.sale(**{**CUSTOMER, "phone": "+1 217 555 0165"})["work_orders"][0]
    window = future_window(days=4)
    response = _book(api, order["id"], window, who="sales")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["id"], body["state"]) == (order["id"], "booked")
    assert datetime.fromisoformat(body["appointment"]["start"]) == datetime.fromisoformat(window["start"])
    assert "customer" not in body and "unit" not in body and "visits" not in body
    text = response.get_data(as_text=True)
    assert not [trace for trace in CUSTOMER_TRACES if trace in text]
    # The call centre still gets the whole order.
    whole = _book(api, order["id"], future_window(days=5), who="agent").get_json()
    assert whole["customer"]["name"] == CUSTOMER["name"]


def test_shop_staff_move_appointments_only_within_the_window_after_the_sale(api, app, session):
    hours = app.config["SALES_APPOINTMENT_HOURS"] = 24  # a setting: read on each request
    order = api.get(f"/api/v1/work-orders/{api.sale()['work_orders'][0]['id']}", "agent").get_json()

    def reported(hours_ago: float) -> None:
        sale = session.get(Sale, order["sale_id"])
        sale.created_at = datetime.now(UTC) - timedelta(hours=hours_ago)
        session.commit()

    reported(hours - 1)
    assert _book(api, order["id"], future_window(days=2), who="sales").status_code == 200
    reported(hours + 1)
    before = _state(api, order["id"])
    assert _book(api, order["id"], future_window(days=3), who="sales").status_code == 404
    assert _state(api, order["id"]) == before
    # The hotline moves it whenever the customer calls.
    assert _book(api, order["id"], future_window(days=3), who="agent").status_code == 200


def test_an_order_once_visited_or_reopened_under_a_complaint_is_not_the_shops_to_move(api, session_factory):
    failed = api.sale(appointment=future_window())["work_orders"][0]
    closed = api.close(failed["id"], "SPR-HEAT", 1, outcome="not_completed", reason="parts_missing")
    assert closed.status_code == 200
    contested = api.sale(phone="+1 217 555 0166", appointment=future_window())["work_orders"][0]
    closed = api.close(contested["id"], "SPR-HEAT", 1, outcome="not_completed", reason="customer_not_home")
    assert closed.status_code == 200
    with session_factory() as session:
        callback = session.scalars(select(Callback).where(Callback.work_order_id == contested["id"])).one()
        callbacks.record_answer(
            session,
            callback.id,
            callbacks.CustomerAnswer(happened="nobody_came"),
            channel="voice",
            actor=Actor.system("test"),
        )
        session.commit()
    reopened = api.get(f"/api/v1/work-orders/{contested['id']}", "supervisor").get_json()
    assert reopened["state"] in ("pending", "booked") and len(reopened["complaints"]) == 1
    for order in (failed, contested):
        before = _state(api, order["id"])
        assert _book(api, order["id"], future_window(days=5), who="sales").status_code == 404
        assert _state(api, order["id"]) == before
        assert _book(api, order["id"], future_window(days=5), who="agent").status_code == 200


def test_every_change_to_a_booking_is_a_new_version_told_once(api, pending, session):
    """Each change (book, reschedule, cancel) raises the order's booking version and requests,
    in its own transaction, one `booking_changed` job for that version; repeating a request is
    ignored (the outbox's dedupe key), and verifying a visit changes no booking."""
    order_id = pending["id"]
    assert _book(api, order_id, future_window(days=4)).status_code == 200
    assert _book(api, order_id, future_window(days=5)).status_code == 200
    cancel = api.post(f"/api/v1/work-orders/{order_id}/cancel", "agent", {"reason": "customer moved"})
    assert cancel.status_code == 200, cancel.get_json()
    session.expire_all()
    told = [
        (row.payload["booking_version"], row.payload["action"], row.dedupe_key)
        for row in session.scalars(
            select(OutboxMessage).where(OutboxMessage.job == "booking_changed").order_by(OutboxMessage.id)
        )
        if row.payload["work_order_id"] == order_id
    ]
    assert told == [
        (1, "create", f"booking:{order_id}:1"),
        (2, "book", f"booking:{order_id}:2"),
        (3, "reschedule", f"booking:{order_id}:3"),
        (4, "cancel", f"booking:{order_id}:4"),
    ]
    assert session.get(WorkOrder, order_id).booking_version == 4


def test_the_booking_job_hands_each_version_to_every_handler(session, monkeypatch, api, pending):
    from dispatch import bookings

    seen: list[tuple[int, int, str, str]] = []
    monkeypatch.setattr(
        bookings,
        "HANDLERS",
        [lambda s, order, version, action, cfg: seen.append((order.id, version, action, order.state))],
    )
    assert bookings.booking_changed(session, pending["id"], 1, "create", {}) == 1
    assert bookings.booking_changed(session, 10**9, 1, "create", {}) == 0  # no such order: nothing told
    assert seen == [(pending["id"], 1, "create", "pending")]
