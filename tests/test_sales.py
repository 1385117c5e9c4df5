"""Reporting a sale: customer matched or created, units registered, orders routed."""

from __future__ import annotations

from tests.helpers import future_window, sale_body


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
