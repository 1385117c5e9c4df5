"""The embedded default: sale -> close on SQLite with an API process and a worker writing at once.

Real gunicorn (2 workers), a real `rq worker --with-scheduler` and `rq cron` (the outbox relay)
on a private Redis, all on one SQLite file. Every sale's order is told to its provider at once
(quiet hours off): the worker writes the notices while the API keeps taking sales and closings. Each order is closed by two requests at the same moment (the office and the
technician's phone, no Idempotency-Key): exactly one may win. With the driver's defaults both
read "booked" before either writes, and both closings succeed (measured: 24 of 24 orders got two
visits); with WAL + BEGIN IMMEDIATE (dispatch/platform/db.py) the second sees the first and gets 409.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from dispatch.audit import trail
from dispatch.audit.trail import make_session_factory
from dispatch.models import NoticeDelivery, ProviderNotice, Sale, Visit, WorkOrder
from dispatch.platform import migrate
from dispatch.platform.db import make_engine
from dispatch.reference import demo
from tests.helpers import sale_body
from tests.procs import PrivateRedis, isolated_env, start_cron, start_gunicorn, start_worker, wait_until

pytestmark = pytest.mark.slow

SELLERS = 4
SALES_EACH = 6
INSTALLER_SH01 = 1  # Ana Ortiz of SPR-HEAT, the demo set's first installer


@pytest.fixture
def sqlite_site(tmp_path: Path):
    """A migrated, seeded SQLite file and a private Redis; yields (env, tokens, session factory)."""
    url = f"sqlite:///{tmp_path / 'dispatch.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session:
        tokens = demo.seed(session)
        session.commit()
    redis = PrivateRedis().start()
    env = isolated_env(tmp_path, "smoke", DATABASE_URL=url, REDIS_URL=redis.url, PROVIDER_QUIET_HOURS="")
    yield env, tokens, factory
    redis.stop()
    engine.dispose()


def _registered(http: requests.Session, location: str, headers: dict[str, str]) -> dict:
    """The sale of an asynchronously accepted receipt, once the worker has registered it."""
    receipt: dict = {}

    def done() -> bool:
        receipt.update(http.get(location, headers=headers, timeout=30).json())
        return receipt["status"] != "accepted"

    wait_until(done, timeout=60, what=f"{location} registered")
    assert receipt["status"] == "registered", receipt
    return receipt["sale"]


def test_sale_to_close_on_sqlite_with_api_and_worker_writing_at_once(sqlite_site):
    env, tokens, factory = sqlite_site
    procs = []
    try:
        web = start_gunicorn(env, workers=2)
        procs.append(web)
        procs.append(start_worker(env))
        procs.append(start_cron(env))
        base = web.extra["url"] + "/api/v1"

        statuses: list[int] = []
        order_ids: list[int] = []
        closed: set[int] = set()
        close_results: dict[int, list[int]] = {}
        lock = threading.Lock()
        selling_done = threading.Event()

        def auth(user: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[user]}"}

        def seller(n: int) -> None:
            with requests.Session() as http:
                for i in range(SALES_EACH):
                    start = datetime.now(UTC) + timedelta(hours=2)
                    body = sale_body(
                        phone=f"+1 217 555 {n}{i:03d}",
                        name=f"Customer {n}-{i}",
                        appointment={
                            "start": start.isoformat(),
                            "end": (start + timedelta(hours=2)).isoformat(),
                        },
                    )
                    # Every other sale takes the asynchronous path: the worker's cron job then
                    # registers it, writing to the same SQLite file as everything else.
                    prefer = {"Prefer": "respond-async"} if i % 2 else {}
                    r = http.post(
                        f"{base}/sales",
                        json=body,
                        headers={**auth("demo-sales"), "Idempotency-Key": f"smoke-{n}-{i}", **prefer},
                        timeout=30,
                    )
                    sale = r.json()
                    if r.status_code == 202:
                        sale = _registered(http, web.extra["url"] + r.headers["Location"], auth("demo-sales"))
                    with lock:
                        statuses.append(r.status_code)
                        if r.status_code in (201, 202):
                            order_ids.extend(o["id"] for o in sale["work_orders"])

        def racing_closes(order_id: int, headers: dict[str, str]) -> list[requests.Response]:
            barrier = threading.Barrier(2)
            body = {
                "outcome": "completed",
                "installer_id": INSTALLER_SH01,
                "visited_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            }

            def close() -> requests.Response:
                barrier.wait()
                return requests.post(
                    f"{base}/work-orders/{order_id}/close", json=body, headers=headers, timeout=30
                )

            with ThreadPoolExecutor(2) as pool:
                return list(pool.map(lambda _: close(), range(2)))

        def closer() -> None:
            # Close each order once the worker has told its provider, while sales still arrive.
            provider = auth("demo-provider-SPR-HEAT")
            deadline = time.monotonic() + 200
            with requests.Session() as http:
                while time.monotonic() < deadline:
                    with lock:
                        todo = [i for i in order_ids if i not in closed]
                    if not todo and selling_done.is_set():
                        return
                    for order_id in todo:
                        r = http.get(f"{base}/work-orders/{order_id}", headers=provider, timeout=30)
                        with lock:
                            statuses.append(r.status_code)
                        actions = [e["action"] for e in r.json().get("history", [])]
                        if "provider_notified" not in actions:
                            continue
                        # The office and the technician's phone close it at the same moment
                        # (no Idempotency-Key): exactly one may win, the other must get 409.
                        both = [r.status_code for r in racing_closes(order_id, provider)]
                        with lock:
                            statuses.extend(both)
                            close_results[order_id] = sorted(both)
                            if 200 in both:
                                closed.add(order_id)
                    time.sleep(0.2)

        sellers = [threading.Thread(target=seller, args=(n,)) for n in range(1, SELLERS + 1)]
        closing = threading.Thread(target=closer)
        closing.start()
        for t in sellers:
            t.start()
        for t in sellers:
            t.join(120)
        selling_done.set()
        closing.join(210)

        total = SELLERS * SALES_EACH
        assert [s for s in statuses if s >= 500] == [], "server errors under concurrent writes"
        assert statuses.count(201) + statuses.count(202) == total, "every sale accepted"
        assert statuses.count(202) == SELLERS * (SALES_EACH // 2), "every other one asynchronously"
        assert len(order_ids) == total and len(closed) == total, (
            f"{len(closed)} of {len(order_ids)} orders closed"
        )
        doubled = {i: r for i, r in close_results.items() if r != [200, 409]}
        assert doubled == {}, (
            f"{len(doubled)} of {total} orders answered two simultaneous closings with {doubled}"
        )

        with factory() as session:
            assert session.scalar(select(func.count()).select_from(Sale)) == total
            states = session.scalars(select(WorkOrder.state)).all()
            assert sorted(set(states)) == ["closed_completed"] and len(states) == total
            routed = session.scalars(
                select(NoticeDelivery.status)
                .join(ProviderNotice, ProviderNotice.id == NoticeDelivery.notice_id)
                .where(ProviderNotice.type == "work_order.routed")
            ).all()
            assert routed == ["delivered"] * total, "every order told to its provider, once"
            assert session.scalar(select(func.count()).select_from(Visit)) == total, "one visit per order"
            for order_id in order_ids:
                actions = [e.action for e in trail.history(session, "work_order", order_id)]
                assert actions == ["create", "provider_notified", "close"], (order_id, actions)
            report = trail.verify_chain(session)
            assert report.ok, report

        from redis import Redis

        conn = Redis.from_url(env["DISPATCH_REDIS_URL"])
        queue = Queue(f"{env['DISPATCH_QUEUE_PREFIX']}-default", connection=conn)
        assert FailedJobRegistry(queue=queue).count == 0
        logs = "".join(p.output() for p in procs)
        assert "database is locked" not in logs
        assert "Traceback" not in logs, logs[-3000:]
    finally:
        for proc in reversed(procs):
            proc.stop()
