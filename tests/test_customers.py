"""Finding a customer from any one of phone, name or address, and the customer's whole card."""

from __future__ import annotations

import pytest

from tests.helpers import future_window


@pytest.fixture
def mary(api) -> dict:
    """Mary Smith with two units: one at home, one installed at her cabin."""
    first = api.sale(name="Mary Smith", phone="+1 217 555 0199", address="12 Elm St", serial="MS-1")
    api.sale(
        name="Mary Smith", phone="+1 217 555 0199", address="400 Cabin Way", serial="MS-2", model="WS-10"
    )
    api.sale(name="Peter Jones", phone="+1 217 555 0111", address="9 Oak Ave", serial="PJ-1")
    return first


def _names(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [c["name"] for c in response.get_json()]


@pytest.mark.parametrize("phone", ["+12175550199", "(217) 555-0199", "217.555.0199", "+1 217 555 0199"])
def test_find_by_phone_in_any_format(api, mary, phone):
    response = api.client.get(
        "/api/v1/customers", query_string={"phone": phone}, headers=api.headers("agent")
    )
    assert _names(response) == ["Mary Smith"]
    assert response.get_json()[0]["phone"] == "+12175550199"


def test_find_by_part_of_the_name_ignoring_case(api, mary):
    assert _names(api.get("/api/v1/customers?name=SMI", "agent")) == ["Mary Smith"]
    assert _names(api.get("/api/v1/customers?name=mary%20s", "agent")) == ["Mary Smith"]
    assert _names(api.get("/api/v1/customers?name=zz", "agent")) == []


def test_find_by_name_words_in_any_order_and_by_part_of_the_number(api, mary):
    assert _names(api.get("/api/v1/customers?name=smith%20mary", "agent")) == ["Mary Smith"]
    assert _names(api.get("/api/v1/customers?name=smith%20peter", "agent")) == []
    assert _names(api.get("/api/v1/customers?phone=0199", "agent")) == ["Mary Smith"]
    assert _names(api.get("/api/v1/customers?phone=555-01", "agent")) == ["Mary Smith", "Peter Jones"]
    assert api.get("/api/v1/customers?phone=abcd", "agent").status_code == 422  # still not a number


def test_find_by_part_of_the_address_also_matches_an_install_address(api, mary):
    assert _names(api.get("/api/v1/customers?address=elm%20st", "agent")) == ["Mary Smith"]
    # The cabin is only a unit's address, not the customer's own.
    assert _names(api.get("/api/v1/customers?address=CABIN", "agent")) == ["Mary Smith"]
    assert _names(api.get("/api/v1/customers?address=oak", "agent")) == ["Peter Jones"]


def test_wildcards_in_a_search_are_plain_characters(api, mary):
    assert _names(api.get("/api/v1/customers?name=%25%25", "agent")) == []
    assert _names(api.get("/api/v1/customers?address=___", "agent")) == []


def test_an_unknown_number_finds_nobody(api, mary):
    assert _names(api.get("/api/v1/customers?phone=%2B1%20217%20555%200100", "agent")) == []


@pytest.mark.parametrize("query", ["", "?phone=2175550199&name=Mary", "?name=Mary&address=Elm"])
def test_exactly_one_criterion_is_required(api, mary, query):
    response = api.get("/api/v1/customers" + query, "agent")
    assert response.status_code == 422
    assert {"phone", "name", "address"} <= set(response.get_json()["errors"])


def test_unknown_query_parameters_are_refused(api):
    response = api.get("/api/v1/customers?name=Mary&city=Springfield", "agent")
    assert response.status_code == 422 and "city" in response.get_json()["errors"]


def test_card_shows_units_and_every_order_with_visits_and_history(api, mary):
    order_id = mary["work_orders"][0]["id"]
    window = future_window()
    assert (
        api.put(f"/api/v1/work-orders/{order_id}/appointment", "agent", {"window": window}).status_code == 200
    )
    assert (
        api.close(order_id, "SPR-HEAT", 1, outcome="not_completed", reason="customer_not_home").status_code
        == 200
    )

    card = api.get(f"/api/v1/customers/{mary['customer_id']}", "agent").get_json()
    assert (card["name"], card["phone"], card["city"]) == ("Mary Smith", "+12175550199", "Springfield")
    assert [(u["serial_number"], u["address"]) for u in card["units"]] == [
        ("MS-1", "12 Elm St"),
        ("MS-2", "400 Cabin Way"),
    ]
    first, second = card["units"]
    assert [o["id"] for o in first["work_orders"]] == [order_id]
    order = first["work_orders"][0]
    assert order["state"] == "closed_not_completed"
    assert [(v["outcome"], v["reason"], v["installer"]) for v in order["visits"]] == [
        ("not_completed", "customer_not_home", "Ana Ortiz")
    ]
    assert [(e["action"], e["from_state"], e["to_state"]) for e in order["history"]] == [
        ("create", None, "pending"),
        ("book", "pending", "booked"),
        ("close", "booked", "closed_not_completed"),
    ]
    assert second["work_orders"][0]["provider"]["code"] == "SPR-QUICK"
    assert second["work_orders"][0]["history"][0]["action"] == "create"


def test_an_unknown_customer_is_a_json_404(api):
    response = api.get("/api/v1/customers/999", "agent")
    assert response.status_code == 404 and "999" in response.get_json()["message"]


def test_find_a_unit_by_serial_number_with_its_owner(api, mary):
    found = api.get("/api/v1/units?serial_number=MS-2", "agent").get_json()
    assert [(u["serial_number"], u["model"], u["customer"]["name"]) for u in found] == [
        ("MS-2", "WS-10", "Mary Smith")
    ]
    assert found[0]["work_orders"][0]["kind"] == "delivery_installation"
    assert api.get("/api/v1/units?serial_number=NOPE", "agent").get_json() == []
    assert api.get("/api/v1/units", "agent").status_code == 422
