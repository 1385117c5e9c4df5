"""Repairs: opened by an agent for a registered unit, routed like any order, repeats linked."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dispatch.models import WorkOrder
from tests.helpers import future_window


def _repair(api, who: str = "agent", **body):
    body.setdefault("fault_category", "no_hot_water")
    body.setdefault("fault_description", "no hot water since Monday")
    return api.post("/api/v1/repairs", who, body)


@pytest.fixture
def unit(api) -> dict:
    return api.sale(serial="RP-100", delivery=False, installation=False)["units"][0]


def test_open_a_repair_by_serial_number_routed_to_the_covering_provider(api, unit):
    response = _repair(api, serial_number="RP-100")
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert (order["kind"], order["state"], order["provider"]["code"]) == ("repair", "pending", "SPR-HEAT")
    assert (order["unit"]["id"], order["customer"]["name"]) == (unit["id"], "Mary Smith")
    assert (order["fault_category"], order["fault_description"]) == (
        "no_hot_water",
        "no hot water since Monday",
    )
    assert order["repeat_of_id"] is None and order["sale_id"] is None
    listed = api.get("/api/v1/work-orders?kind=repair", "provider:SPR-HEAT").get_json()
    assert [o["id"] for o in listed["items"]] == [order["id"]]


def test_open_a_booked_repair_by_unit_id(api, unit):
    response = _repair(api, unit_id=unit["id"], fault_category="leak", appointment=future_window())
    assert response.status_code == 201
    assert response.get_json()["state"] == "booked"


def test_a_repair_where_nobody_covers_is_unassigned(api):
    unit = api.sale(city="Bayview", serial="BAY-1", delivery=False, installation=False)["units"][0]
    order = _repair(api, unit_id=unit["id"]).get_json()
    assert (order["state"], order["provider"]) == ("unassigned", None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"serial_number": "NOPE"}, "serial_number"),
        ({"unit_id": 9999}, "unit_id"),
        ({}, "serial_number"),
        ({"serial_number": "RP-100", "unit_id": 1}, "serial_number"),
        ({"unit_id": "1"}, "unit_id"),
        ({"serial_number": "RP-100", "fault_category": "gremlins"}, "fault_category"),
        ({"serial_number": "RP-100", "fault_description": ""}, "fault_description"),
    ],
)
def test_bad_repair_requests_name_the_field_and_create_nothing(api, unit, session, body, field):
    response = _repair(api, **body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert session.scalar(select(func.count()).select_from(WorkOrder)) == 0


def test_a_repeat_repair_of_the_same_fault_links_the_earlier_one(api, unit):
    first = _repair(api, serial_number="RP-100").get_json()
    assert api.close(first["id"], "SPR-HEAT", 1).status_code == 200
    second = _repair(api, serial_number="RP-100").get_json()
    assert second["repeat_of_id"] == first["id"]
    other_fault = _repair(api, serial_number="RP-100", fault_category="leak").get_json()
    assert other_fault["repeat_of_id"] is None
    assert api.close(second["id"], "SPR-HEAT", 2).status_code == 200
    third = _repair(api, serial_number="RP-100").get_json()
    assert third["repeat_of_id"] == second["id"]  # each repeat points at the one before it


def test_a_second_call_about_an_open_repair_does_not_dispatch_twice(api, unit, session):
    first = _repair(api, serial_number="RP-100").get_json()
    again = _repair(api, serial_number="RP-100")
    assert again.status_code == 409
    assert str(first["id"]) in again.get_json()["message"]
    assert session.scalar(select(func.count()).select_from(WorkOrder)) == 1


def test_a_cancelled_repair_does_not_block_a_new_one(api, unit):
    first = _repair(api, serial_number="RP-100").get_json()
    api.post(f"/api/v1/work-orders/{first['id']}/cancel", "agent", {"reason": "fixed itself"})
    second = _repair(api, serial_number="RP-100")
    assert second.status_code == 201 and second.get_json()["repeat_of_id"] is None


def test_only_agents_open_repairs(api, unit):
    for who in ("sales", "provider:SPR-HEAT", "supervisor"):
        assert _repair(api, who=who, serial_number="RP-100").status_code == 403
