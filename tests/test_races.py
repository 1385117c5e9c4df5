"""State-changing writes raced on PostgreSQL: real concurrent API requests on many orders at once.

Each write locks the row it changes (FOR UPDATE) before it reads the state it checks; without the
lock, two requests both read "open" and both act (two closings of one order, two verdicts for one
callback). Each race fires every request at once (threads, each with its own test client, released
by a barrier) and checks that exactly one request per row wins, the others get the documented
409, and the rows and audit events written afterwards are one per row.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from dispatch.models import AuditEvent, Callback, Complaint, Provider, Visit, WorkOrder
from tests.callbacks_support import ALL_DAY, callback_of, close_with, exhaust_automated, new_agent
from tests.helpers import future_window

APP_SETTINGS = ALL_DAY
ORDERS = 12  # rows raced at once; two (or three) requests each

Request = tuple[str, str, dict[str, str], Any]  # method, path, headers, JSON body


def race(app, requests: list[Request]) -> list[tuple[int, dict]]:
    """Send every request at the same moment, each from its own thread and client; (status, body)."""
    barrier = threading.Barrier(len(requests))

    def send(request: Request) -> tuple[int, dict]:
        method, path, headers, body = request
        client = app.test_client()
        barrier.wait(timeout=30)
        response = client.open(path, method=method, headers=headers, json=body)
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(len(requests)) as pool:
        futures = [pool.submit(send, r) for r in requests]
        return [f.result(timeout=120) for f in futures]  # re-raises a thread's exception


def one_winner_each(results: list[tuple[int, dict]], per_row: int, loser: int = 409) -> None:
    """Requests come in groups of `per_row` (one group per row): one 200 in each, the rest `loser`."""
    for n in range(0, len(results), per_row):
        codes = sorted(code for code, _ in results[n : n + per_row])
        assert codes == sorted([200] + [loser] * (per_row - 1)), (n // per_row, results[n : n + per_row])
        for code, body in results[n : n + per_row]:
            if code == loser:
                assert body["code"] == loser and body["message"], body  # the API's JSON shape


def events(session_factory, entity: str, action: str) -> Counter:
    """How many events of one action each row has."""
    with session_factory() as session:
        return Counter(
            session.scalars(
                select(AuditEvent.entity_id).where(AuditEvent.entity == entity, AuditEvent.action == action)
            )
        )


def count(session_factory, model, *where) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_two_closings_of_each_order_at_once_make_one_visit_each(app, api, session_factory):
    ids = [api.sale(phone=f"+1 217 555 03{n:02d}")["work_orders"][0]["id"] for n in range(ORDERS)]
    body = {"outcome": "completed", "installer_id": 1, "visited_at": future_window(days=-1)["start"]}
    headers = api.headers("provider:SPR-HEAT")

    results = race(
        app, [("POST", f"/api/v1/work-orders/{i}/close", headers, body) for i in ids for _ in (1, 2)]
    )

    one_winner_each(results, 2)
    assert count(session_factory, Visit) == ORDERS
    assert count(session_factory, Callback) == ORDERS  # one verification planned per visit
    assert events(session_factory, "work_order", "close") == Counter({i: 1 for i in ids})


def test_a_closing_and_a_cancelling_at_once_one_wins(app, api, session_factory):
    ids = [api.sale(phone=f"+1 217 555 04{n:02d}")["work_orders"][0]["id"] for n in range(ORDERS)]
    close = {"outcome": "completed", "installer_id": 1, "visited_at": future_window(days=-1)["start"]}
    requests: list[Request] = []
    for i in ids:
        requests.append(("POST", f"/api/v1/work-orders/{i}/close", api.headers("provider:SPR-HEAT"), close))
        requests.append(
            ("POST", f"/api/v1/work-orders/{i}/cancel", api.headers("agent"), {"reason": "returned"})
        )
        requests.append(
            ("POST", f"/api/v1/work-orders/{i}/cancel", api.headers("supervisor"), {"reason": "again"})
        )

    results = race(app, requests)

    one_winner_each(results, 3)
    closed = events(session_factory, "work_order", "close")
    cancelled = events(session_factory, "work_order", "cancel")
    assert sum(closed.values()) + sum(cancelled.values()) == ORDERS
    assert set(closed) | set(cancelled) == set(ids) and not set(closed) & set(cancelled)
    assert count(session_factory, Visit) == len(closed)
    assert count(session_factory, WorkOrder, WorkOrder.state == "cancelled") == len(cancelled)


def test_two_assignments_of_each_unassigned_order_at_once_one_wins(app, api, session_factory):
    ids = [
        api.sale(city="Bayview", phone=f"+1 217 555 05{n:02d}")["work_orders"][0]["id"] for n in range(ORDERS)
    ]
    headers = api.headers("supervisor")
    requests: list[Request] = []
    for i in ids:
        requests.append(("POST", f"/api/v1/work-orders/{i}/assign", headers, {"provider": "LAKE-SVC"}))
        requests.append(("POST", f"/api/v1/work-orders/{i}/assign", headers, {"provider": "RIV-PRO"}))

    results = race(app, requests)

    one_winner_each(results, 2)
    assert events(session_factory, "work_order", "assign") == Counter({i: 1 for i in ids})
    winners = {body["id"]: body["provider"]["code"] for code, body in results if code == 200}
    with session_factory() as session:  # the provider kept is the winner's, not the loser's
        kept = dict(
            session.execute(
                select(WorkOrder.id, Provider.code)
                .join(Provider, Provider.id == WorkOrder.provider_id)
                .where(WorkOrder.id.in_(ids))
            ).all()
        )
    assert kept == winners and len(kept) == ORDERS


def test_two_bookings_of_each_pending_order_at_once_book_then_reschedule(app, api, session_factory):
    # Both succeed (the second finds it booked and reschedules: documented, not a conflict), but
    # one after the other: one `book` and one `reschedule` per order, and the order keeps the
    # window of the later one. Unlocked, both read "pending" and both book.
    ids = [api.sale(phone=f"+1 217 555 06{n:02d}")["work_orders"][0]["id"] for n in range(ORDERS)]
    headers = api.headers("agent")
    windows = [future_window(days=4), future_window(days=5)]
    requests = [
        ("PUT", f"/api/v1/work-orders/{i}/appointment", headers, {"window": w}) for i in ids for w in windows
    ]

    results = race(app, requests)

    assert [code for code, _ in results] == [200] * len(requests)
    assert events(session_factory, "work_order", "book") == Counter({i: 1 for i in ids})
    assert events(session_factory, "work_order", "reschedule") == Counter({i: 1 for i in ids})
    with session_factory() as session:
        for i in ids:
            last = session.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity == "work_order", AuditEvent.entity_id == i)
                .order_by(AuditEvent.seq.desc())
                .limit(1)
            ).one()
            assert last.action == "reschedule"
            start = session.get(WorkOrder, i).appointment_start
            assert start.isoformat() == last.data["appointment_start"]


def _queued(api, session_factory, cfg, n: int) -> list[int]:
    """`n` callbacks waiting for the callback team (their automated attempts unanswered)."""
    ids = []
    for k in range(n):
        order_id = close_with(api, "customer_not_home", phone=f"+1 217 555 07{k:02d}")
        with session_factory() as session:
            ids.append(callback_of(session, order_id).id)
        exhaust_automated(session_factory, ids[-1], cfg)
    return ids


def test_two_agents_claiming_each_callback_at_once_one_gets_it(app, api, session_factory, cfg):
    ids = _queued(api, session_factory, cfg, ORDERS)
    _, bob = new_agent(session_factory, "agent-bob")
    alice = api.headers("callback")
    requests: list[Request] = []
    for i in ids:
        requests.append(("POST", f"/api/v1/callbacks/{i}/claim", alice, None))
        requests.append(("POST", f"/api/v1/callbacks/{i}/claim", {"Authorization": f"Bearer {bob}"}, None))

    results = race(app, requests)

    one_winner_each(results, 2)
    assert events(session_factory, "callback", "claimed") == Counter({i: 1 for i in ids})
    assert not events(session_factory, "callback", "lease_taken_over")


def test_two_answers_to_each_callback_at_once_reach_one_verdict(app, api, session_factory, cfg):
    # The lease holder's double submit, with two different answers: one verdict, one complaint at
    # most, and the verdict kept is the winner's.
    ids = _queued(api, session_factory, cfg, ORDERS)
    headers = api.headers("callback")
    for i in ids:
        assert api.post(f"/api/v1/callbacks/{i}/claim", "callback").status_code == 200
    answers = [{"reached": True, "happened": "confirmed"}, {"reached": True, "happened": "nobody_came"}]
    requests = [("POST", f"/api/v1/callbacks/{i}/answer", headers, a) for i in ids for a in answers]

    results = race(app, requests)

    one_winner_each(results, 2)
    assert events(session_factory, "callback", "verdict") == Counter({i: 1 for i in ids})
    won = {body["id"]: body["verdict"] for code, body in results if code == 200}
    with session_factory() as session:
        kept = dict(session.execute(select(Callback.id, Callback.verdict).where(Callback.id.in_(ids))).all())
    assert kept == won
    assert count(session_factory, Complaint) == list(won.values()).count("contradicted")
