"""PostgreSQL restarted during intake: clients retrying with the same Idempotency-Key end with
exactly one record each.

A private PostgreSQL (never the machine's), migrated and seeded, behind real gunicorn. Sellers
report sales, each sale with its own key; on an error, a timeout or a 409 (the key is still
leased by a request whose transaction died with the server) they retry the same body with the
same key. The server is killed (immediate shutdown, like a crash) mid-stream and started again.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import requests

from dispatch.audit.trail import make_session_factory
from dispatch.platform import migrate
from dispatch.platform.db import make_engine
from dispatch.reference import demo
from tests.conftest import REDIS
from tests.helpers import sale_body
from tests.procs import PrivatePostgres, isolated_env, start_gunicorn, wait_until

pytestmark = pytest.mark.slow

SELLERS = 4
SALES_EACH = 15
LEASE_SECONDS = 2  # a key whose request died is free again after this (409 meanwhile)


@pytest.fixture
def private_site(tmp_path: Path):
    """A private PostgreSQL, migrated and seeded, served by gunicorn; yields (pg, base URL, tokens)."""
    pg = PrivatePostgres().init().start()
    web = None
    try:
        migrate.upgrade(pg.url)
        engine = make_engine(pg.url)
        with make_session_factory(engine)() as session:
            tokens = demo.seed(session)
            session.commit()
        engine.dispose()
        env = isolated_env(
            tmp_path,
            "pgfault",
            DATABASE_URL=pg.url,
            REDIS_URL=REDIS,
            IDEMPOTENCY_LEASE_SECONDS=str(LEASE_SECONDS),
        )
        web = start_gunicorn(env, workers=2)
        yield pg, web.extra["url"], tokens
    finally:
        if web is not None:
            web.stop()
        pg.destroy()


def test_retried_sales_are_recorded_exactly_once_across_a_postgres_restart(private_site):
    pg, url, tokens = private_site
    headers = {"Authorization": "Bearer " + tokens["demo-sales"]}
    sales = {
        f"sale-{s}-{i}-{uuid.uuid4().hex[:6]}": sale_body(
            phone=f"+1 217 3{s:02d} {i:04d}", name=f"Seller{s} Buyer{i}"
        )
        for s in range(SELLERS)
        for i in range(SALES_EACH)
    }
    keys = list(sales)
    answers: dict[str, dict] = {}
    seen: Counter[str] = Counter()  # what the clients met on the way: statuses and errors
    lock = threading.Lock()
    first_done = threading.Event()

    def seller(my_keys: list[str]) -> None:
        for key in my_keys:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    r = requests.post(
                        url + "/api/v1/sales",
                        json=sales[key],
                        headers={**headers, "Idempotency-Key": key},
                        timeout=5,
                    )
                    outcome = str(r.status_code)
                except requests.RequestException as exc:
                    outcome, r = type(exc).__name__, None
                with lock:
                    seen[outcome] += 1
                if r is not None and r.status_code == 201:
                    answers[key] = r.json()
                    first_done.set()
                    break
                # 503 (with Retry-After) or no answer: the database is away; 409: the key is
                # leased by a request that died with it. Both mean "retry the same request
                # later". Never a 500: a database that is away is not a server bug.
                assert r is None or r.status_code in (409, 503), r.text
                if r is not None and r.status_code == 503:
                    assert r.headers["Retry-After"].isdigit(), r.headers
                time.sleep(0.2)
            time.sleep(0.05)  # a seller's pace: the stream lasts long enough to span the restart

    threads = [threading.Thread(target=seller, args=(keys[s::SELLERS],)) for s in range(SELLERS)]
    for t in threads:
        t.start()
    assert first_done.wait(30), f"no sale went through before the restart: {seen}"
    time.sleep(0.3)
    pg.stop("immediate")  # like a crash: in-flight transactions die
    time.sleep(2)
    pg.start()
    for t in threads:
        t.join(90)
    assert not any(t.is_alive() for t in threads)

    # The restart was felt by the clients: some requests failed and were retried.
    assert sum(n for outcome, n in seen.items() if outcome != "201") > 0, seen
    print("client saw:", dict(seen))
    assert set(answers) == set(keys), f"{len(keys) - len(answers)} sales never accepted; {seen}"

    with psycopg.connect(pg.url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        per_phone = dict(
            conn.execute(
                "SELECT c.phone, count(DISTINCT s.id) FROM customers c JOIN sales s ON s.customer_id = c.id "
                "GROUP BY c.phone"
            ).fetchall()
        )
        totals = conn.execute(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM sales), "
            "(SELECT count(*) FROM units), (SELECT count(*) FROM work_orders)"
        ).fetchone()
        keys_done = conn.execute("SELECT count(*) FROM idempotency_keys WHERE completed").fetchone()[0]
        sale_ids = {r[0] for r in conn.execute("SELECT id FROM sales")}
    n = len(keys)
    assert totals == (n, n, n, n), f"customers, sales, units, work orders: {totals} for {n} sales"
    assert set(per_phone.values()) == {1}
    assert keys_done == n
    # Every client holds the answer describing the one record that exists for its key.
    assert {a["id"] for a in answers.values()} == sale_ids

    # A retry now replays the stored answer and creates nothing.
    key = keys[0]
    r = requests.post(
        url + "/api/v1/sales", json=sales[key], headers={**headers, "Idempotency-Key": key}, timeout=5
    )
    assert r.status_code == 201 and r.headers.get("Idempotent-Replayed") == "true"
    assert r.json()["id"] == answers[key]["id"]
    wait_until(lambda: requests.get(url + "/api/v1/health", timeout=2).status_code == 200, what="health")
