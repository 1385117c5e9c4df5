"""Idempotency-Key: a retried POST replays the first response and never creates anything twice."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select, text, update

from dispatch.models import (
    AuditEvent,
    Customer,
    IdempotencyRecord,
    OutboxMessage,
    Sale,
    Unit,
    Visit,
    WorkOrder,
)
from tests.helpers import future_window, sale_body
from tests.procs import start_gunicorn, wait_until

CREATED = (Sale, Customer, Unit, WorkOrder, OutboxMessage, AuditEvent)


def _counts(session) -> dict:
    session.expire_all()
    return {m.__name__: session.scalar(select(func.count()).select_from(m)) for m in CREATED}


def test_the_same_key_and_body_replays_the_first_response_and_creates_nothing(api, session):
    body = sale_body(appointment=future_window())
    first = api.post("/api/v1/sales", "sales", body, key="sale-1")
    assert first.status_code == 201
    after_first = _counts(session)
    # One order: its booking's change to be told (the provider's notices follow from that job).
    assert after_first["Sale"] == 1 and after_first["OutboxMessage"] == 1
    second = api.post("/api/v1/sales", "sales", body, key="sale-1")
    assert second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _counts(session) == after_first


def test_the_same_json_in_another_key_order_is_the_same_request(api, client, session):
    body = sale_body()
    first = api.post("/api/v1/sales", "sales", body, key="k-order")
    reordered = dict(reversed(list(body.items())))
    second = api.post("/api/v1/sales", "sales", reordered, key="k-order")
    assert second.get_json() == first.get_json()
    assert _counts(session)["Sale"] == 1


def test_the_same_key_with_another_body_is_422_and_creates_nothing(api, session):
    api.post("/api/v1/sales", "sales", sale_body(), key="k-1")
    before = _counts(session)
    response = api.post("/api/v1/sales", "sales", sale_body(phone="+1 217 555 0123"), key="k-1")
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["Idempotency-Key"]
    # ... and so is the same key on another endpoint.
    order_id = session.scalars(select(WorkOrder.id)).one()
    rebook = api.client.put(
        f"/api/v1/work-orders/{order_id}/appointment",
        json={"window": future_window()},
        headers=api.headers("sales", **{"Idempotency-Key": "k-1"}),
    )
    assert rebook.status_code == 422 and list(rebook.get_json()["errors"]) == ["Idempotency-Key"]
    assert _counts(session) == before


def test_keys_are_scoped_to_the_caller(api, session):
    body = sale_body(serial=None)
    by_sales = api.post("/api/v1/sales", "sales", body, key="shared")
    by_agent = api.post("/api/v1/sales", "agent", body, key="shared")
    assert (by_sales.status_code, by_agent.status_code) == (201, 201)
    assert by_sales.get_json()["id"] != by_agent.get_json()["id"]
    assert by_agent.get_json()["channel"] == "phone"
    assert _counts(session)["Sale"] == 2


def test_a_failed_request_does_not_use_up_its_key(api, session):
    bad = api.post("/api/v1/sales", "sales", sale_body(city="Atlantis"), key="retry-me")
    assert bad.status_code == 422
    assert session.scalars(select(IdempotencyRecord)).all() == []
    good = api.post("/api/v1/sales", "sales", sale_body(), key="retry-me")
    assert good.status_code == 201
    assert _counts(session)["Sale"] == 1


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
def test_a_malformed_key_is_refused(api, client, key):
    response = client.post(
        "/api/v1/sales", json=sale_body(), headers=api.headers("sales", **{"Idempotency-Key": key})
    )
    assert response.status_code == 422 and "Idempotency-Key" in response.get_json()["errors"]


def test_keys_are_kept_at_least_a_day_and_an_expired_one_starts_afresh(api, session):
    api.post("/api/v1/sales", "sales", sale_body(), key="old")
    record = session.scalars(select(IdempotencyRecord)).one()
    assert record.expires_at - record.created_at >= timedelta(hours=24)
    assert record.completed and record.response_status == 201
    session.execute(update(IdempotencyRecord).values(expires_at=record.created_at - timedelta(seconds=1)))
    session.commit()
    again = api.post("/api/v1/sales", "sales", sale_body(phone="+1 217 555 0124"), key="old")
    assert again.status_code == 201
    assert _counts(session)["Sale"] == 2


def test_a_key_still_in_progress_is_409_then_the_finished_response_replays(app, api, engine, session):
    order = api.sale()["work_orders"][0]
    path = f"/api/v1/work-orders/{order['id']}/close"
    body = {"outcome": "completed", "installer_id": 1, "visited_at": "2020-01-01T10:00:00+00:00"}
    headers = api.headers("provider:SPR-HEAT", **{"Idempotency-Key": "close-1"})
    results: dict[str, object] = {}

    # Hold the order's row lock, so the first request stops half-way, holding its key.
    with engine.connect() as blocker:
        blocker.execute(text("SELECT id FROM work_orders WHERE id = :id FOR UPDATE"), {"id": order["id"]})

        def first():
            results["first"] = app.test_client().post(path, json=body, headers=headers)

        thread = threading.Thread(target=first)
        thread.start()
        wait_until(lambda: session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1)
        second = app.test_client().post(path, json=body, headers=headers)
        assert second.status_code == 409
        assert "still being processed" in second.get_json()["message"]
        blocker.rollback()
    thread.join(30)
    first_response = results["first"]
    assert first_response.status_code == 200, first_response.get_json()
    third = app.test_client().post(path, json=body, headers=headers)
    assert (third.status_code, third.get_json()) == (200, first_response.get_json())
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Visit)) == 1


@pytest.mark.slow
def test_two_concurrent_identical_requests_create_one_sale(api, worker_env, session):
    server = start_gunicorn(worker_env, workers=2)
    try:
        url = server.extra["url"] + "/api/v1/sales"
        rounds = 6
        for n in range(rounds):
            body = sale_body(phone=f"+1 217 555 01{n:02d}", appointment=future_window())
            headers = api.headers("sales", **{"Idempotency-Key": f"race-{n}"})
            barrier = threading.Barrier(2)

            def send(body=body, headers=headers, barrier=barrier):
                barrier.wait()
                return requests.post(url, json=body, headers=headers, timeout=30)

            with ThreadPoolExecutor(2) as pool:
                responses = list(pool.map(lambda _: send(), range(2)))
            statuses = sorted(r.status_code for r in responses)
            assert statuses in ([201, 201], [201, 409]), [r.text for r in responses]
            if statuses == [201, 201]:
                assert responses[0].json() == responses[1].json()
            else:
                conflict = next(r for r in responses if r.status_code == 409)
                assert "still being processed" in conflict.json()["message"]
        counts = _counts(session)
        assert (counts["Sale"], counts["Customer"], counts["WorkOrder"], counts["OutboxMessage"]) == (
            rounds,
            rounds,
            rounds,
            rounds,  # each order's booking change to be told, once
        )
    finally:
        server.stop()
