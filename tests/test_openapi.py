"""The OpenAPI document lists every endpoint with its request and response schemas; /docs serves."""

from __future__ import annotations

import json
import re

import pytest

BODY_METHODS = {"POST", "PUT", "PATCH"}
TAKES_A_BODY = {
    ("POST", "/api/v1/sales"),
    ("POST", "/api/v1/repairs"),
    ("POST", "/api/v1/work-orders/{order_id}/close"),
    ("POST", "/api/v1/work-orders/{order_id}/cancel"),
    ("POST", "/api/v1/work-orders/{order_id}/assign"),
    ("PUT", "/api/v1/work-orders/{order_id}/appointment"),
    ("POST", "/api/v1/cities"),
    ("POST", "/api/v1/product-lines"),
    ("POST", "/api/v1/product-models"),
    ("POST", "/api/v1/providers"),
    ("POST", "/api/v1/coverage"),
    ("POST", "/api/v1/installers"),
    ("POST", "/api/v1/ledger/fines/{fine_id}/decision"),
    ("POST", "/api/v1/ledger/fines/{fine_id}/appeal"),
    ("POST", "/api/v1/ledger/appeals/{appeal_id}/decision"),
    ("POST", "/api/v1/ledger/entries/{entry_id}/reversal"),
    ("POST", "/api/v1/ledger/months/{month}/close"),
}


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _operations(app):
    """(OpenAPI path, method) for every API route the app really serves."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield path, method


def test_every_route_is_in_the_document(app, spec):
    served = set(_operations(app))
    assert len(served) >= 20
    missing = [(p, m) for p, m in served if m.lower() not in spec["paths"].get(p, {})]
    assert missing == []
    documented = {(p, m.upper()) for p, ops in spec["paths"].items() for m in ops if m != "parameters"}
    assert documented == served  # and nothing is documented that is not served


def test_every_operation_has_its_request_and_response_schemas(app, spec):
    problems = []
    assert {(m, p) for p, m in _operations(app)} >= TAKES_A_BODY
    for path, method in _operations(app):
        op = spec["paths"][path][method.lower()]
        # An action like "claim" may take no body; any body an operation takes has a schema.
        if method in BODY_METHODS and ("requestBody" in op or (method, path) in TAKES_A_BODY):
            content = op.get("requestBody", {}).get("content", {})
            if not any("schema" in c for c in content.values()):
                problems.append(f"{method} {path}: no request body schema")
        successes = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        if not successes:
            problems.append(f"{method} {path}: no success response")
        for code, response in successes.items():
            if code == "204":
                continue
            content = response.get("content", {})
            if not any("schema" in c for c in content.values()):
                problems.append(f"{method} {path}: {code} has no schema")
    assert problems == []


def test_schemas_are_resolvable_and_describe_the_sale(spec):
    schemas = spec["components"]["schemas"]
    for ref in re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(spec)):
        assert ref in schemas, ref
    sale_in = schemas["Sale"] if "Sale" in schemas else schemas["SaleIn"]
    assert {"shop", "salesperson", "sold_at", "customer", "items"} <= set(sale_in["required"])
    assert sale_in.get("additionalProperties") is False


def test_operations_say_who_may_call_them_and_how_to_authenticate(app, spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, method in _operations(app):
        op = spec["paths"][path][method.lower()]
        if op.get("security") == []:
            continue  # public, or authenticated otherwise (a webhook's signature)
        text = op.get("description", "") + op.get("summary", "")
        assert "Roles:" in text, f"{method} {path} does not name its roles"


def test_creating_endpoints_document_the_idempotency_key(spec):
    for path in ("/api/v1/sales", "/api/v1/repairs", "/api/v1/work-orders/{order_id}/close"):
        names = [p["name"] for p in spec["paths"][path]["post"].get("parameters", [])]
        assert "Idempotency-Key" in names, path


def test_the_docs_page_is_served(client):
    response = client.get("/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "swagger-ui" in page and "openapi.json" in page
