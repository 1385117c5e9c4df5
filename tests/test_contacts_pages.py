"""The customer's contact history and the hotline's queue, through the API and the hotline desk:
a reply word (CHANGE) puts the customer, their phone, order and booked time in front of an agent,
who marks it done once; the card shows every message with its reason in the customer's time."""

from __future__ import annotations

import re

import time_machine

from dispatch.telephony import conversation
from tests.test_reminders import EN_PHONE, at, run_jobs, sell, window
from tests.test_web_hotline import _post, desk  # noqa: F401 - the signed-in agent fixture


def _booked_and_replied(api, session, cfg) -> dict:
    """Booked on 1 March (Chicago), confirmed; the customer replied CHANGE; the reminder is pending."""
    with time_machine.travel(at(2026, 3, 1, 12), tick=False):
        order = sell(api, phone=EN_PHONE, name="Mary Smith", appointment=window("2026-03-05"))
        run_jobs(session, cfg)
        conversation.text_received(session, EN_PHONE, "CHANGE", cfg, message_sid="SMchange")
        session.commit()
    return order


def test_the_contact_history_api_shows_each_step_with_its_reason_in_local_time(api, session, cfg):
    order = _booked_and_replied(api, session, cfg)
    customer_id = api.get(f"/api/v1/work-orders/{order['id']}", "agent").get_json()["customer"]["id"]
    response = api.get(f"/api/v1/customers/{customer_id}/contacts", "callback")
    assert response.status_code == 200, response.get_json()
    lines = response.get_json()
    assert [(line["kind"], line["purpose"]) for line in reversed(lines)] == [
        ("queued", "booking_confirmation"),
        ("queued", "booking_reminder"),
        ("sent", "booking_confirmation"),
        ("reply", "booking_confirmation"),
    ]
    sent = lines[1]
    assert sent["body"].startswith("Your service visit is booked") and "Thursday 5 March" in sent["body"]
    assert sent["local_at"] == "2026-03-01T12:00:00-06:00" and sent["at"] == "2026-03-01T18:00:00+00:00"
    assert lines[0]["reason"] == "CHANGE"
    assert api.get("/api/v1/customers/999999/contacts", "agent").status_code == 404
    assert api.get(f"/api/v1/customers/{customer_id}/contacts?limit=0", "agent").status_code == 422


def test_the_hotline_queue_api_lists_the_request_and_takes_done_once(api, session, cfg):
    order = _booked_and_replied(api, session, cfg)
    (request,) = api.get("/api/v1/hotline/requests", "agent").get_json()
    assert (request["kind"], request["work_order_id"], request["phone"], request["customer_name"]) == (
        "reschedule", order["id"], EN_PHONE, "Mary Smith",
    )  # fmt: skip
    assert request["appointment_start"] == "2026-03-05T15:00:00-06:00"
    done = api.post(f"/api/v1/hotline/requests/{request['id']}/done", "agent", {"note": "moved to Friday"})
    assert done.status_code == 200 and done.get_json()["done_at"]
    again = api.post(f"/api/v1/hotline/requests/{request['id']}/done", "supervisor", {})
    assert again.status_code == 409
    assert api.get("/api/v1/hotline/requests", "agent").get_json() == []
    bad = api.post(f"/api/v1/hotline/requests/{request['id']}/done", "agent", {"note": "x" * 301})
    assert bad.status_code == 422 and "note" in str(bad.get_json())


def test_the_desk_shows_who_waits_for_a_call_and_the_card_every_message(api, session, cfg, desk):  # noqa: F811
    order = _booked_and_replied(api, session, cfg)
    page = desk.get("/hotline").get_data(as_text=True)
    section = page[page.index('id="requests"') :]
    for shown in (
        "Mary Smith",
        EN_PHONE,
        f"#{order['id']}",
        "Thu 05 Mar 15:00–18:00",
        "Asks for another time",
        "“CHANGE”",
    ):
        assert shown in section, shown
    (request_id,) = [int(x) for x in re.findall(r'id="request-(\d+)"', section)]
    done = _post(desk, f"/hotline/requests/{request_id}/done", {"note": "called, moved"}, "/hotline")
    assert done.status_code == 303
    after = desk.get("/hotline").get_data(as_text=True)
    assert "Nobody is waiting for a call." in after and f"Request #{request_id} is done." in after
    customer_id = api.get(f"/api/v1/work-orders/{order['id']}", "agent").get_json()["customer"]["id"]
    card = desk.get(f"/hotline/customers/{customer_id}").get_data(as_text=True)
    history = card[card.index('id="contacts"') :]
    for shown in (
        "Planned",
        "day-before reminder",
        "Sent",
        "booking confirmation",
        "Customer replied",
        "Thursday 5 March",
    ):
        assert shown in history, shown
    # Shown in the customer's time: sent at 18:00 UTC, 12:00 in Springfield.
    assert "12:00" in history[history.index("<strong>Sent</strong>") - 80 :][:120]
