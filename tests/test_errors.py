"""Bad input: every 4xx is JSON naming the bad fields; a 500 leaks nothing; nothing half-written stays."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from dispatch.models import AuditEvent, Customer, IdempotencyRecord, OutboxMessage, Sale, Unit, WorkOrder
from dispatch.orders import routing
from tests.helpers import future_window, sale_body

WRITTEN = (Customer, Sale, Unit, WorkOrder, OutboxMessage, AuditEvent, IdempotencyRecord)


def _counts(session) -> dict:
    session.expire_all()
    return {m.__name__: session.scalar(select(func.count()).select_from(m)) for m in WRITTEN}


def _errors(response, status: int = 422) -> set[str]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert body["code"] == status and body["message"]
    return set(body.get("errors", {}))


def test_unknown_fields_are_refused_at_every_level(api, session):
    body = sale_body(appointment=future_window())
    body["discount"] = 10
    body["customer"]["email"] = "m@example.com"
    body["items"][0]["colour"] = "white"
    body["appointment"]["note"] = "ring twice"
    before = _counts(session)
    assert _errors(api.post("/api/v1/sales", "sales", body)) == {
        "discount",
        "customer.email",
        "items.0.colour",
        "appointment.note",
    }
    assert _counts(session) == before


@pytest.mark.parametrize("installer_id", ["1", 1.5, True, None, "one"])
def test_integers_are_strict(api, installer_id):
    order = api.sale()["work_orders"][0]
    body = {"outcome": "completed", "installer_id": installer_id, "visited_at": "2024-01-01T10:00:00+00:00"}
    assert _errors(api.post(f"/api/v1/work-orders/{order['id']}/close", "provider:SPR-HEAT", body)) == {
        "installer_id"
    }


@pytest.mark.parametrize("value", ["2030-13-45T10:00:00", "yesterday", "", 1700000000, "2030-02-30"])
def test_bad_dates_are_named(api, value):
    body = sale_body()
    body["sold_at"] = value
    assert _errors(api.post("/api/v1/sales", "sales", body)) == {"sold_at"}


@pytest.mark.parametrize("value", ["yes", 1, 0, "true", "false", None])
def test_booleans_are_strict_too(api, value):
    body = sale_body()
    body["items"][0]["delivery"] = value
    assert _errors(api.post("/api/v1/sales", "sales", body)) == {"items.0.delivery"}


def test_missing_required_fields_are_each_named(api):
    assert _errors(api.post("/api/v1/sales", "sales", {"customer": {}})) >= {
        "shop",
        "salesperson",
        "sold_at",
        "items",
        "customer.name",
        "customer.phone",
        "customer.address",
        "customer.city",
    }


def test_an_oversized_body_is_a_json_413_and_writes_nothing(api, client, session):
    body = sale_body()
    body["customer"]["address"] = "x" * 100_000
    before = _counts(session)
    response = client.post(
        "/api/v1/sales", json=body, headers=api.headers("sales", **{"Idempotency-Key": "big"})
    )
    assert response.status_code == 413 and response.is_json
    assert response.get_json()["code"] == 413 and "limit" in response.get_json()["message"]
    assert _counts(session) == before


def test_invalid_json_is_a_json_error_naming_the_problem(api, client):
    headers = {**api.headers("sales"), "Content-Type": "application/json"}
    response = client.post("/api/v1/sales", data='{"shop": "A",', headers=headers)
    assert response.status_code in (400, 422) and response.is_json
    assert "JSON" in response.get_json()["message"]


# Bodies that made Python's JSON parser raise (RecursionError, the int-digits ValueError): each is
# a 400 naming the problem, with or without an Idempotency-Key (whose fingerprint reads the body).
CRASHERS = {
    "object nested 3,000 deep": ('{"a":' * 3000 + "1" + "}" * 3000, "too deeply nested"),
    "array nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, "too deeply nested"),
    "object nested 33 deep": ('{"a":' * 33 + "1" + "}" * 33, "too deeply nested"),
    "integer of 5,000 digits": ('{"shop": ' + "7" * 5000 + "}", "number too long"),
    "number of 5,000 digits in a sale": (None, "number too long"),
}


@pytest.mark.parametrize("key", [None, "crasher"])
@pytest.mark.parametrize("name", list(CRASHERS))
def test_bodies_that_crashed_the_parser_are_a_400_naming_the_problem(api, client, session, name, key):
    payload, problem = CRASHERS[name]
    if payload is None:
        body = sale_body()
        body["items"][0]["serial_number"] = "SERIAL"
        payload = json.dumps(body).replace('"SERIAL"', "9" * 5000)
    # An installation may raise the 64 KiB limit: the parser, not the size check, must refuse these.
    client.application.config["MAX_CONTENT_LENGTH"] = 1_000_000
    headers = {**api.headers("sales"), "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    before = _counts(session)
    response = client.post("/api/v1/sales", data=payload, headers=headers)
    assert _errors(response, 400) == {"_body"}
    assert problem in response.get_json()["message"] and problem in response.get_json()["errors"]["_body"][0]
    assert _counts(session) == before


@pytest.mark.parametrize("payload", ["[1, 2]", '"a sale"', "null"])
def test_a_body_that_is_not_an_object_is_refused(api, client, payload):
    headers = {**api.headers("sales"), "Content-Type": "application/json"}
    response = client.post("/api/v1/sales", data=payload, headers=headers)
    assert response.status_code in (400, 422) and response.is_json, response.get_data(as_text=True)


def test_a_too_long_text_is_named(api):
    body = sale_body(name="N" * 161)
    assert _errors(api.post("/api/v1/sales", "sales", body)) == {"customer.name"}


def test_a_crash_half_way_is_a_bare_500_and_leaves_nothing_behind(api, session, monkeypatch):
    calls = []
    real = routing.find_provider

    def second_call_fails(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("secret connection string postgres://admin:hunter2@db")
        return real(*args, **kwargs)

    monkeypatch.setattr(routing, "find_provider", second_call_fails)
    body = sale_body(
        appointment=future_window(),
        items=[{"model": "EW-50", "installation": True}, {"model": "WS-10", "installation": True}],
    )
    before = _counts(session)
    response = api.post("/api/v1/sales", "sales", body, key="crash")
    assert len(calls) == 2  # the first unit and its order were already written when it failed
    assert response.status_code == 500 and response.is_json
    text = response.get_data(as_text=True)
    assert response.get_json()["message"] == "internal error"
    for leak in ("Traceback", "RuntimeError", "hunter2", "intake.py", "File "):
        assert leak not in text
    assert _counts(session) == before

    monkeypatch.setattr(routing, "find_provider", real)
    retry = api.post("/api/v1/sales", "sales", body, key="crash")
    assert retry.status_code == 201
    assert len(retry.get_json()["work_orders"]) == 2


def test_unknown_routes_and_methods_answer_in_json(api, client):
    assert _errors(api.get("/api/v1/nothing-here", "agent"), 404) == set()
    assert _errors(client.delete("/api/v1/sales", headers=api.headers("sales")), 405) == set()


def test_an_error_from_the_domain_names_the_field(api):
    response = api.post("/api/v1/sales", "sales", sale_body(model="NOPE"))
    body = response.get_json()
    assert body["errors"] == {"items.0.model": ["unknown model 'NOPE'"]}
    assert "items.0.model" in body["message"]


def test_nul_characters_are_refused_naming_the_field_not_a_500(api):
    body = {"code": "SH-\x0099", "name": "Nul Person", "provider": "SPR-HEAT"}
    response = api.post("/api/v1/installers", "admin", body)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"code": ["must not contain NUL characters"]}
    sale = sale_body(name="Mary\x00Smith")
    response = api.post("/api/v1/sales", "sales", sale)
    assert response.status_code == 422
    assert "customer.name" in response.get_json()["errors"]
    assert api.get("/api/v1/customers?name=Mary", "agent").get_json() == []
