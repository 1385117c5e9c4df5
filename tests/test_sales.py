"""Reporting a sale: customer matched or created, units registered, orders routed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dispatch.models import (
    AuditEvent,
    Customer,
    OutboxMessage,
    ProviderNotice,
    Sale,
    Unit,
    User,
    WorkOrder,
)
from dispatch.telephony import make_gateway
from tests.helpers import future_window, sale_body
from tests.notices_support import awake, run_due


def test_sale_with_appointment_books_orders_with_the_covering_provider(api):
    result = api.sale(
        appointment=future_window(),
        items=[
            {"model": "EW-50", "serial_number": "A-1", "delivery": True, "installation": True},
            {"model": "WS-10", "installation": True},
            {"model": "EW-80", "delivery": False, "installation": False},
        ],
    )
    assert result["customer_created"] is True
    assert len(result["units"]) == 3
    orders = result["work_orders"]
    assert [(o["kind"], o["state"], o["provider"]["code"]) for o in orders] == [
        ("delivery_installation", "booked", "SPR-HEAT"),
        ("installation", "booked", "SPR-QUICK"),
    ]
    assert orders[0]["appointment"]["local_start"].endswith("-06:00")  # Springfield's time


def test_sale_without_appointment_is_pending(api):
    result = api.sale()
    assert result["work_orders"][0]["state"] == "pending"


def test_sale_where_no_provider_covers_is_unassigned_not_dropped(api):
    result = api.sale(city="Bayview", model="GW-40")
    order = result["work_orders"][0]
    assert order["state"] == "unassigned" and order["provider"] is None
    listed = api.get("/api/v1/work-orders?state=unassigned", "supervisor").get_json()
    assert [o["id"] for o in listed["items"]] == [order["id"]]


def test_same_phone_in_another_format_matches_the_same_customer(api):
    first = api.sale(phone="+1 217 555 0199")
    second = api.sale(phone="(217) 555-0199")
    assert second["customer_id"] == first["customer_id"]
    assert second["customer_created"] is False


def test_agent_keying_a_phoned_in_sale_is_recorded_as_phone_channel(api):
    assert api.sale(who="agent")["channel"] == "phone"
    assert api.sale(who="sales", phone="+1 217 555 0100")["channel"] == "web"


def test_unknown_field_and_bad_values_are_named_and_change_nothing(api):
    body = sale_body()
    body["surprise"] = 1
    body["customer"]["phone"] = 12345
    body["items"][0]["delivery"] = "maybe"
    response = api.post("/api/v1/sales", "sales", body)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {"surprise", "customer.phone", "items.0.delivery"} <= set(errors)
    assert api.get("/api/v1/work-orders", "supervisor").get_json()["total"] == 0


def test_unknown_city_is_a_422_naming_the_field(api):
    response = api.post("/api/v1/sales", "sales", sale_body(city="Atlantis"))
    assert response.status_code == 422
    assert "customer.city" in response.get_json()["errors"]
    # ... and says where the list of cities is.
    assert "GET /api/v1/cities" in response.get_json()["errors"]["customer.city"][0]


@pytest.mark.parametrize("written", ["springfield", "SPRINGFIELD", " Springfield "])
def test_a_city_in_another_letter_case_is_the_same_city(api, written):
    sold = api.sale(city=written)
    card = api.get(f"/api/v1/customers/{sold['customer_id']}", "agent").get_json()
    assert card["city"] == "Springfield"
    assert sold["work_orders"][0]["state"] == "pending"  # routed to Springfield's provider


# --- more of capability 1 -----------------------------------------------------------------------


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _next_january(day: int, hour: int) -> str:
    """A naive local time in next January (standard time everywhere in the demo cities)."""
    return datetime(datetime.now(UTC).year + 1, 1, day, hour, 0).isoformat()


def test_units_are_registered_to_the_customer_with_their_serial_numbers(api, session):
    result = api.sale(
        items=[
            {"model": "EW-50", "serial_number": "EW-SN-1", "installation": True},
            {"model": "WS-10"},
        ]
    )
    units = {u["model"]: u for u in result["units"]}
    assert units["EW-50"]["serial_number"] == "EW-SN-1"
    assert units["WS-10"]["serial_number"] is None
    rows = session.scalars(select(Unit).order_by(Unit.id)).all()
    assert [(u.customer_id, u.serial_number, u.sale_id) for u in rows] == [
        (result["customer_id"], "EW-SN-1", result["id"]),
        (result["customer_id"], None, result["id"]),
    ]
    # Only the unit that needs a visit gets a work order.
    assert [o["unit_id"] for o in result["work_orders"]] == [units["EW-50"]["id"]]


def test_a_serial_number_already_registered_is_refused_naming_the_item(api, session):
    api.sale(serial="DUP-1")
    before = {m: _count(session, m) for m in (Sale, Unit, WorkOrder, Customer, AuditEvent)}
    body = sale_body(
        phone="+1 217 555 0142",
        items=[
            {"model": "EW-80", "serial_number": "NEW-1", "installation": True},
            {"model": "EW-50", "serial_number": "DUP-1", "installation": True},
        ],
    )
    response = api.post("/api/v1/sales", "sales", body)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["items.1.serial_number"]
    assert {m: _count(session, m) for m in before} == before


def test_the_same_serial_twice_in_one_sale_names_the_second_item(api):
    body = sale_body(
        items=[
            {"model": "EW-50", "serial_number": "TWICE", "installation": True},
            {"model": "EW-50", "serial_number": "TWICE", "installation": True},
        ]
    )
    response = api.post("/api/v1/sales", "sales", body)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["items.1.serial_number"]


def test_existing_customer_keeps_one_record_and_the_new_unit_gets_the_install_address(api, session):
    first = api.sale(phone="+1 217 555 0150", name="Ann Lee", address="1 First St")
    second = api.sale(phone="217.555.0150", name="Ann Lee", address="77 Lake Rd")
    assert first["customer_created"] is True and second["customer_created"] is False
    assert second["customer_id"] == first["customer_id"]
    assert _count(session, Customer) == 1
    assert second["units"][0]["address"] == "77 Lake Rd"
    assert session.get(Customer, first["customer_id"]).phone == "+12175550150"


def test_a_new_customer_is_stored_with_the_e164_number(api, session):
    result = api.sale(phone="(217) 555-0161", name="  Bo Diaz ")
    customer = session.get(Customer, result["customer_id"])
    assert (customer.phone, customer.name) == ("+12175550161", "Bo Diaz")


def test_an_invalid_phone_number_is_a_422_naming_the_field(api, session):
    response = api.post("/api/v1/sales", "sales", sale_body(phone="12"))
    assert response.status_code == 422
    assert "customer.phone" in response.get_json()["errors"]
    assert _count(session, Customer) == 0


def test_routing_takes_the_lowest_priority_number_and_skips_an_inactive_provider(api):
    # Springfield electric water heaters: SPR-HEAT (priority 10) before SPR-QUICK (20).
    assert api.sale(model="EW-50")["work_orders"][0]["provider"]["code"] == "SPR-HEAT"
    response = api.post(
        "/api/v1/providers",
        "admin",
        {"code": "SPR-HEAT", "name": "Springfield Heat & Water", "active": False},
    )
    assert response.status_code == 201 and response.get_json()["active"] is False
    assert api.sale(model="EW-50")["work_orders"][0]["provider"]["code"] == "SPR-QUICK"
    # Gas water heaters in Springfield are covered by SPR-HEAT alone: now nobody.
    order = api.sale(model="GW-40")["work_orders"][0]
    assert (order["state"], order["provider"]) == ("unassigned", None)


def test_specialist_product_lines_go_to_the_specialist(api):
    order = api.sale(model="SW-200", city="Riverton")["work_orders"][0]
    assert order["provider"]["code"] == "SOLAR-SPEC"


def test_unassigned_orders_are_visible_to_supervisors_but_no_provider(api):
    order = api.sale(city="Bayview")["work_orders"][0]
    assert order["state"] == "unassigned"
    assert api.get(f"/api/v1/work-orders/{order['id']}", "supervisor").status_code == 200
    for code in ("SPR-HEAT", "SPR-QUICK", "RIV-PRO", "LAKE-SVC", "SOLAR-SPEC"):
        assert api.get("/api/v1/work-orders", f"provider:{code}").get_json()["total"] == 0
        assert api.get(f"/api/v1/work-orders/{order['id']}", f"provider:{code}").status_code == 404


def test_a_naive_appointment_time_is_the_customers_city_local_time(api):
    window = {"start": _next_january(15, 9), "end": _next_january(15, 12)}
    springfield = api.sale(appointment=window)["work_orders"][0]["appointment"]
    riverton = api.sale(appointment=window, city="Riverton", phone="+1 303 555 0170")["work_orders"][0][
        "appointment"
    ]
    year = datetime.now(UTC).year + 1
    # 09:00 in Chicago (UTC-6) and in Denver (UTC-7) in January.
    assert datetime.fromisoformat(springfield["start"]) == datetime(year, 1, 15, 15, tzinfo=UTC)
    assert datetime.fromisoformat(riverton["start"]) == datetime(year, 1, 15, 16, tzinfo=UTC)
    assert springfield["local_start"] == f"{year}-01-15T09:00:00-06:00"
    assert riverton["local_start"] == f"{year}-01-15T09:00:00-07:00"
    assert (springfield["timezone"], riverton["timezone"]) == ("America/Chicago", "America/Denver")


def test_an_appointment_with_an_offset_is_taken_as_given(api):
    year = datetime.now(UTC).year + 1
    window = {"start": f"{year}-01-15T09:00:00+00:00", "end": f"{year}-01-15T11:00:00+00:00"}
    appointment = api.sale(appointment=window)["work_orders"][0]["appointment"]
    assert datetime.fromisoformat(appointment["start"]) == datetime(year, 1, 15, 9, tzinfo=UTC)
    assert appointment["local_start"] == f"{year}-01-15T03:00:00-06:00"


@pytest.mark.parametrize(
    ("window", "field"),
    [
        ({"start": "2020-01-01T09:00:00", "end": "2020-01-01T12:00:00"}, "appointment.start"),
        (None, "appointment.end"),  # end before start, in the future
        ("long", "appointment.end"),  # longer than a day
    ],
)
def test_a_bad_appointment_is_a_422_naming_the_field_and_creates_nothing(api, session, window, field):
    if window is None:
        window = {"start": _next_january(15, 12), "end": _next_january(15, 9)}
    elif window == "long":
        window = {"start": _next_january(15, 9), "end": _next_january(17, 9)}
    response = api.post("/api/v1/sales", "sales", sale_body(appointment=window))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert (_count(session, Sale), _count(session, Customer), _count(session, WorkOrder)) == (0, 0, 0)


def test_a_sale_time_in_the_future_is_refused(api):
    body = sale_body()
    body["sold_at"] = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = api.post("/api/v1/sales", "sales", body)
    assert response.status_code == 422 and "sold_at" in response.get_json()["errors"]


def test_unknown_model_and_wrong_product_line_are_named(api):
    body = sale_body(
        items=[
            {"model": "EW-50", "product_line": "gas_wh", "installation": True},
        ]
    )
    response = api.post("/api/v1/sales", "sales", body)
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["items.0.product_line"]
    response = api.post("/api/v1/sales", "sales", sale_body(model="XX-1"))
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["items.0.model"]


def test_a_sale_needs_at_least_one_item(api):
    body = sale_body()
    body["items"] = []
    response = api.post("/api/v1/sales", "sales", body)
    assert response.status_code == 422 and "items" in response.get_json()["errors"]


def test_a_phoned_in_sale_records_the_agent_who_keyed_it(api, session):
    result = api.sale(who="agent")
    sale = session.get(Sale, result["id"])
    agent = session.scalars(select(User).where(User.name == "demo-agent")).one()
    assert (sale.channel, sale.reported_by_id) == ("phone", agent.id)
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity == "sale")).one()
    assert event.actor_user_id == agent.id and event.data["channel"] == "phone"


def test_each_new_order_has_a_create_event_and_a_booked_one_visit_reminders(
    api, session, session_factory, cfg
):
    result = api.sale(
        appointment=future_window(),
        items=[{"model": "EW-50", "installation": True}, {"model": "WS-10", "delivery": True}],
    )
    for order in result["work_orders"]:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "work_order", AuditEvent.entity_id == order["id"])
        ).all()
        assert [(e.action, e.from_state, e.to_state) for e in events] == [("create", None, "booked")]
    # A pending order (no date yet) has no visit to remind of; each new order's booking is told.
    pending = api.sale(phone="+1 217 555 0180")["work_orders"][0]["id"]
    jobs = session.scalars(select(OutboxMessage.job)).all()
    assert sorted(jobs) == ["booking_changed"] * 3
    run_due(session_factory, awake(cfg), lambda: make_gateway(dict(cfg), lambda *_: None))
    notices = session.scalars(select(ProviderNotice).order_by(ProviderNotice.id)).all()
    told = {(n.work_order_id, n.type.split(".")[1], n.lead) for n in notices}
    booked = [o["id"] for o in result["work_orders"]]
    assert told == {(pending, "routed", "now")} | {
        (order_id, kind, lead)
        for order_id in booked
        for kind, lead in (
            ("routed", "now"),
            ("visit_upcoming", "evening-before@18:00"),
            ("visit_upcoming", "1h"),
        )
    }
