"""What a new user stumbles on first, answered plainly: a body sent without its JSON type (415),
errors of every kind in one JSON shape, the site's root, city names in any letter case, and NUL
characters in query parameters."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from dispatch.models import Sale, WorkOrder
from tests.helpers import sale_body

SHAPE = {"code", "status", "message", "errors"}


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_json_body_without_its_content_type_is_a_415_naming_the_type_and_saves_nothing(
    api, client, session, content_type
):
    headers = api.headers("sales", **{"Idempotency-Key": f"typeless-{content_type}"})
    if content_type:
        headers["Content-Type"] = content_type
    r = client.post("/api/v1/sales", data=json.dumps(sale_body()), headers=headers)
    assert r.status_code == 415, r.get_data(as_text=True)
    body = r.get_json()
    assert set(body) == SHAPE
    assert "application/json" in body["message"]
    assert (_count(session, Sale), _count(session, WorkOrder)) == (0, 0)
    # The same body with its type is taken.
    assert api.post("/api/v1/sales", "sales", sale_body()).status_code == 201
    # The OpenAPI document says so for every operation taking a JSON body.
    paths = client.get("/openapi.json").get_json()["paths"]
    assert "415" in paths["/api/v1/sales"]["post"]["responses"]
    assert "415" in paths["/api/v1/callbacks/{callback_id}/answer"]["post"]["responses"]
    assert "415" not in paths["/api/v1/work-orders"]["get"]["responses"]


def test_401_403_404_405_share_the_error_shape(api, client):
    answers = [
        (401, client.get("/api/v1/work-orders")),
        (403, api.get("/api/v1/users", "provider:SPR-HEAT")),
        (404, api.get("/api/v1/work-orders/999999", "supervisor")),
        (404, client.get("/api/v1/no-such-thing")),
        (405, client.delete("/api/v1/sales", headers=api.headers("sales"))),
    ]
    for code, r in answers:
        assert r.status_code == code, (code, r.get_data(as_text=True))
        body = r.get_json()
        assert body is not None and set(body) == SHAPE, (code, body)
        assert body["code"] == code and body["message"] and body["errors"] == {}, body
    assert answers[-1][1].headers["Allow"]


def test_the_root_points_to_the_consoles_and_the_api_docs(client):
    r = client.get("/")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert 'action="/login"' in page and 'href="/docs"' in page
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize("written", ["springfield", "SPRINGFIELD", " Springfield "])
def test_a_city_in_another_letter_case_is_the_same_city(api, written):
    r = api.post("/api/v1/sales", "sales", sale_body(city=written))
    assert r.status_code == 201, r.get_json()
    order = api.get(f"/api/v1/work-orders/{r.get_json()['work_orders'][0]['id']}", "supervisor").get_json()
    assert order["city"] == "Springfield"


def test_an_unknown_city_says_where_the_list_is(api):
    r = api.post("/api/v1/sales", "sales", sale_body(city="Atlantis"))
    assert r.status_code == 422
    assert "GET /api/v1/cities" in r.get_json()["errors"]["customer.city"][0]


@pytest.mark.parametrize(
    "path, who",
    [
        ("/api/v1/work-orders?q=a%00b", "supervisor"),
        ("/api/v1/work-orders?state=open%00", "supervisor"),
        ("/api/v1/customers?phone=555%000", "agent"),
        ("/api/v1/complaints?page=1%00", "supervisor"),
        ("/api/v1/callbacks?limit=%00", "callback"),
    ],
)
def test_a_nul_in_a_query_parameter_is_a_422_naming_it(api, path, who):
    r = api.get(path, who)
    assert r.status_code == 422, r.get_data(as_text=True)
    name = path.split("?")[1].split("=")[0]
    assert name in r.get_json()["errors"] and name in r.get_json()["message"]
