"""The reports phase: scorecards and rankings over 1,000,000 work orders with their verdicts, and
what keeping the daily aggregates costs the verdict path.

1. Bulk load (INSERT .. SELECT generate_series, in a database of its own): 250 cities in four time
   zones, two providers per city, five installers per provider, and the orders, each with its
   visit and its resolved callback (verdict and rating), spread over the last year; then the daily
   aggregates summed from them in one statement (`dispatch scorecards rebuild` reads the audit
   trail for dispatches, which a bulk load does not write; the sums follow the rules of
   audit/scorecards/facts.py: a fact on its city's local day).
2. Through gunicorn, one request at a time (latency, not throughput): a city's team ranking for a
   day and a provider's month scorecard (target: each p95 under 200 ms), and the nationwide
   provider ranking of a month (no target: the heaviest report).
3. The verdict path's extra cost: fresh orders sold and closed through the API, then answered
   in-process (`record_answer` and the commit, as a webhook or the callback team does), with the
   tally counting and with `count_verdict` switched off in this process only, alternately on the
   same data. Printed as a ratio (target: under 10% more).
"""

from __future__ import annotations

import http.client
import json
import secrets
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg

from dispatch.bench.procs import POST_JSON, Server, gunicorn
from dispatch.bench.rows import Bench, close_file, sale_body, scalar, seed

CITIES, PROVIDERS_PER_CITY, INSTALLERS_PER_PROVIDER = 250, 2, 5
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]
STEP = 200_000  # rows per INSERT


def _load_reference(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """Bench cities, providers (covering their city), installers, and a pool of customers."""
    conn.execute(
        "INSERT INTO cities (name, timezone, region, language) "
        "SELECT 'Bench City ' || lpad(c::text, 3, '0'), (%s::text[])[1 + c %% 4], 'US', 'en' "
        "FROM generate_series(1, %s) AS c",
        (ZONES, CITIES),
    )
    conn.execute(
        "INSERT INTO providers (code, name, active, under_review) "
        "SELECT 'BP-' || lpad(p::text, 4, '0'), 'Bench Provider ' || p, true, false "
        "FROM generate_series(1, %s) AS p",
        (CITIES * PROVIDERS_PER_CITY,),
    )
    conn.execute(
        "INSERT INTO installers (code, name, provider_id, seniority, active) "
        "SELECT p.code || '-' || k, 'Installer ' || k || ' of ' || p.code, p.id, 'regular', true "
        "FROM providers p, generate_series(1, %s) AS k WHERE p.code LIKE 'BP-%%'",
        (INSTALLERS_PER_PROVIDER,),
    )
    line = scalar(conn, "SELECT min(id) FROM product_lines")
    conn.execute(
        "INSERT INTO coverage (provider_id, city_id, product_line_id, priority) "
        "SELECT p.id, c.id, %s, 100 FROM providers p JOIN cities c "
        "ON c.name = 'Bench City ' || lpad((1 + (substr(p.code, 4)::int - 1) / %s)::text, 3, '0') "
        "WHERE p.code LIKE 'BP-%%'",
        (line, PROVIDERS_PER_CITY),
    )
    model = scalar(conn, "SELECT min(id) FROM product_models")
    conn.execute(
        "INSERT INTO customers (name, phone, address, city_id, created_at) "
        "SELECT 'Bench Owner ' || c.id, '+1415' || lpad(c.id::text, 7, '0'), '1 Bench Road', c.id, now() "
        "FROM cities c WHERE c.name LIKE 'Bench City %%'"
    )
    conn.execute(
        "INSERT INTO units (customer_id, product_model_id, address, city_id, purchased_at, created_at) "
        "SELECT id, %s, address, city_id, now(), now() FROM customers WHERE phone LIKE '+1415%%'",
        (model,),
    )
    return line, int(scalar(conn, "SELECT min(id) FROM users"))


# One row per order i (1..n): provider p = i mod providers, its city, one of its installers, a
# time in the last year; 5% "customer not home" claims (30% of them contradicted), 3% of the
# completed ones contradicted, 7% unreachable; ratings on confirmed completions: 65% very
# satisfied, 30% satisfied, 5% not.
_ORDERS = """
CREATE TEMP TABLE bench_orders AS
SELECT i, b.id AS provider_id, c.id AS city_id, u.id AS unit_id, u.customer_id,
       (SELECT id FROM installers WHERE code = b.code || '-' || (1 + h %% {ipp})) AS installer_id,
       date_trunc('day', now()) - interval '1 day' * (1 + h %% 365) + interval '1 second' * (h %% 50000) AS at,
       h %% 20 = 0 AS not_home, (h / 20) %% 100 AS roll, (h / 2000) %% 100 AS rating_roll
FROM generate_series(%(a)s::bigint, %(b)s::bigint) AS i
CROSS JOIN LATERAL (SELECT abs(hashint8(i)::bigint) AS h) AS hh
JOIN providers b ON b.code = 'BP-' || lpad((1 + i %% {providers})::text, 4, '0')
JOIN cities c ON c.name = 'Bench City ' || lpad((1 + (i %% {providers}) / {ppc})::text, 3, '0')
JOIN units u ON u.city_id = c.id AND u.address = '1 Bench Road'
"""

_VERDICT = (
    "CASE WHEN o.not_home THEN (CASE WHEN o.roll < 30 THEN 'contradicted' ELSE 'confirmed' END) "
    "WHEN o.roll < 3 THEN 'contradicted' WHEN o.roll < 10 THEN 'unreachable' ELSE 'confirmed' END"
)
_RATING = (
    "CASE WHEN o.not_home OR o.roll < 10 THEN NULL WHEN o.rating_roll < 65 THEN 'very_satisfied' "
    "WHEN o.rating_roll < 95 THEN 'satisfied' ELSE 'not_satisfied' END"
)

_INSERTS = [
    """INSERT INTO work_orders (id, kind, state, unit_id, customer_id, city_id, product_line_id, provider_id,
                                created_by_id, created_at, updated_at)
       SELECT {wo} + o.i, 'installation',
              CASE WHEN o.not_home THEN 'closed_not_completed' ELSE 'verified' END,
              o.unit_id, o.customer_id, o.city_id, %(line)s, o.provider_id, %(user)s, o.at, o.at
       FROM bench_orders o""",
    """INSERT INTO visits (id, work_order_id, provider_id, installer_id, visited_at, closed_by_id, closed_at,
                           outcome, reason)
       SELECT {vi} + o.i, {wo} + o.i, o.provider_id, o.installer_id, o.at + interval '20 hours', %(user)s,
              o.at + interval '21 hours',
              CASE WHEN o.not_home THEN 'not_completed' ELSE 'completed' END,
              CASE WHEN o.not_home THEN 'customer_not_home' END
       FROM bench_orders o""",
    f"""INSERT INTO callbacks (id, work_order_id, visit_id, purpose, claim, claim_at, provider_id, installer_id,
                              phone, state, priority, due_at, automated_attempts, human_attempts,
                              verdict, rating, answer_channel, resolved_at, created_at, updated_at)
       SELECT {{cb}} + o.i, {{wo}} + o.i, {{vi}} + o.i, 'verify_visit',
              CASE WHEN o.not_home THEN 'customer_not_home' ELSE 'completed' END, o.at + interval '20 hours',
              o.provider_id, o.installer_id, '+14150000000', 'resolved', 0, o.at + interval '23 hours', 1, 0,
              {_VERDICT}, {_RATING}, 'voice', o.at + interval '23 hours', o.at + interval '21 hours',
              o.at + interval '23 hours'
       FROM bench_orders o""",
]

# The daily aggregates of what was loaded, one statement: each fact on its city's local day.
_AGGREGATES = """
INSERT INTO scorecard_days (day, provider_id, city_id, installer_id, dispatched, closed, first_visit_completed,
    not_home_claims, verdicts, confirmed, contradicted, unreachable, not_home_checked, not_home_contradicted,
    rated, very_satisfied, complaints)
SELECT day, provider_id, city_id, installer_id, sum(dispatched), sum(closed), sum(fvc), sum(nhc), sum(verdicts),
       sum(confirmed), sum(contradicted), sum(unreachable), sum(nh_checked), sum(nh_contradicted), sum(rated),
       sum(very), 0
FROM (
    SELECT (w.created_at AT TIME ZONE c.timezone)::date AS day, w.provider_id, w.city_id, 0 AS installer_id,
           1 AS dispatched, 0 AS closed, 0 AS fvc, 0 AS nhc, 0 AS verdicts, 0 AS confirmed, 0 AS contradicted,
           0 AS unreachable, 0 AS nh_checked, 0 AS nh_contradicted, 0 AS rated, 0 AS very
    FROM work_orders w JOIN cities c ON c.id = w.city_id WHERE w.id > %(wo)s
    UNION ALL
    SELECT (v.closed_at AT TIME ZONE c.timezone)::date, v.provider_id, w.city_id, v.installer_id,
           0, 1, (v.outcome = 'completed')::int, (v.reason IS NOT DISTINCT FROM 'customer_not_home')::int, 0, 0, 0, 0, 0, 0, 0, 0
    FROM visits v JOIN work_orders w ON w.id = v.work_order_id JOIN cities c ON c.id = w.city_id
    WHERE v.id > %(vi)s
    UNION ALL
    SELECT (k.resolved_at AT TIME ZONE c.timezone)::date, k.provider_id, w.city_id, k.installer_id,
           0, 0, 0, 0, (k.verdict <> 'unreachable')::int, (k.verdict = 'confirmed')::int,
           (k.verdict = 'contradicted')::int, (k.verdict = 'unreachable')::int,
           (k.verdict <> 'unreachable' AND k.claim = 'customer_not_home')::int,
           (k.verdict = 'contradicted' AND k.claim = 'customer_not_home')::int,
           (k.rating IS NOT NULL)::int, (k.rating IS NOT DISTINCT FROM 'very_satisfied')::int
    FROM callbacks k JOIN work_orders w ON w.id = k.work_order_id JOIN cities c ON c.id = w.city_id
    WHERE k.id > %(cb)s
) AS facts
GROUP BY 1, 2, 3, 4
"""


def bulk_load(bench: Bench, db: str, n: int) -> dict[str, Any]:
    """Load `n` orders with their visits and verdicts, and their aggregates; returns the counts."""
    t0 = time.perf_counter()
    with psycopg.connect(bench.conninfo(db), autocommit=True) as conn:
        line, user = _load_reference(conn)
        base = {
            t: int(scalar(conn, f"SELECT coalesce(max(id), 0) FROM {t}"))
            for t in ("work_orders", "visits", "callbacks")
        }
        keys = {"wo": base["work_orders"], "vi": base["visits"], "cb": base["callbacks"]}
        providers = CITIES * PROVIDERS_PER_CITY
        for a in range(1, n + 1, STEP):
            b = min(n, a + STEP - 1)
            conn.execute(
                _ORDERS.format(ipp=INSTALLERS_PER_PROVIDER, providers=providers, ppc=PROVIDERS_PER_CITY),
                {"a": a, "b": b},
            )
            for sql in _INSERTS:
                conn.execute(sql.format(**keys), {"line": line, "user": user})
            conn.execute("DROP TABLE bench_orders")
            if bench.args.verbose:
                print(f"  [reports] {b:,} orders loaded ({time.perf_counter() - t0:.0f}s)", flush=True)
        for table in ("work_orders", "visits", "callbacks"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        loaded = time.perf_counter() - t0
        conn.execute(_AGGREGATES, keys)
        for table in ("work_orders", "visits", "callbacks", "scorecard_days"):
            conn.execute(f"VACUUM ANALYZE {table}")
        cells = int(scalar(conn, "SELECT count(*) FROM scorecard_days"))
        last = scalar(
            conn,
            "SELECT max(day) FROM scorecard_days WHERE provider_id IN (SELECT id FROM providers WHERE code LIKE 'BP-%%')",
        )
    return {
        "orders": n,
        "cells": cells,
        "load s": loaded,
        "aggregates s": time.perf_counter() - t0 - loaded,
        "last": last,
    }


def _get(url: str, path: str, token: str, count: int) -> tuple[list[float], dict[str, int], Any]:
    """`count` GETs of one path on one keep-alive connection; latencies (ms), statuses, the last body."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    body = b""
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            body = response.read()
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1
    finally:
        conn.close()
    return latencies, statuses, json.loads(body or b"null")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0


def measure_reports(bench: Bench, server: Server, last: date, count: int) -> None:
    """p50/p95 of the reports, one request at a time (after a few unmeasured ones)."""
    token = bench.tokens["demo-supervisor"]
    month_last = last.replace(day=1) - timedelta(days=1)
    month_first = month_last.replace(day=1)
    day = last - timedelta(days=1)
    # What each answer holds, to show it is not empty: teams ranked, days with data, providers.
    reports = [
        (
            "a city's team ranking, one day",
            f"/api/v1/rankings/teams?day={day}&city={quote('Bench City 007')}",
            200.0,
            lambda body: len(body["items"]),
        ),
        (
            "a provider's month scorecard",
            f"/api/v1/scorecards/providers/BP-0013?from={month_first}&to={month_last}",
            200.0,
            lambda body: len(body["days"]),
        ),
        (
            "nationwide provider ranking, a month",
            f"/api/v1/rankings/providers?from={month_first}&to={month_last}",
            None,
            lambda body: len(body["items"]),
        ),
    ]
    for label, path, target, size in reports:
        _get(server.url, path, token, 3)  # warm: connections, caches
        latencies, statuses, body = _get(server.url, path, token, count)
        errors = sum(v for k, v in statuses.items() if k != "200")
        p95 = _pct(latencies, 0.95)
        bench.add(
            "reports",
            what=label,
            rows=size(body) if statuses.get("200") == count else "-",
            requests=count,
            **{"p50 ms": _pct(latencies, 0.50), "p95 ms": p95},
            target=f"< {target:g} ms: {'met' if p95 < target else 'MISSED'}" if target else "-",
            errors=errors,
        )
        if errors:
            bench.notes.append(f"reports: {label}: statuses {statuses}")


def _post(conn: http.client.HTTPConnection, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    conn.request(
        "POST", path, body=json.dumps(body), headers={**POST_JSON, "Authorization": f"Bearer {token}"}
    )
    response = conn.getresponse()
    data = json.loads(response.read() or b"{}")
    if response.status >= 300:
        raise RuntimeError(f"POST {path}: {response.status} {data}")
    return data


def closed_callbacks(bench: Bench, db: str, server: Server, count: int) -> list[int]:
    """`count` orders sold and closed through the API; their callbacks, waiting for the answer."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    orders = []
    try:
        for n in bench.next_n(count):
            sale = _post(conn, "/api/v1/sales", bench.tokens["demo-sales"], sale_body(n))
            orders.append(sale["work_orders"][0]["id"])
        closing = close_file(bench, orders)
        for line in closing.read_text().splitlines():
            _method, path, _headers, body = line.split("\t", 3)
            _post(conn, path, bench.tokens["demo-provider-SPR-HEAT"], json.loads(body))
        closing.unlink(missing_ok=True)
    finally:
        conn.close()
    with psycopg.connect(bench.conninfo(db)) as db_conn:
        rows = db_conn.execute(
            "SELECT id FROM callbacks WHERE work_order_id = ANY(%s) AND state = 'scheduled' ORDER BY id",
            (orders,),
        ).fetchall()
    return [r[0] for r in rows]


@contextmanager
def tally_off() -> Iterator[None]:
    """`count_verdict` does nothing in this process meanwhile (the verdict path without the tally)."""
    from dispatch.audit import scorecards

    kept = scorecards.count_verdict
    scorecards.count_verdict = lambda *_a, **_k: None
    try:
        yield
    finally:
        scorecards.count_verdict = kept


@contextmanager
def tally_timed(engine: Any, spent: list[float]) -> Iterator[None]:
    """Add to `spent` the seconds the tally itself takes in this process meanwhile: `count_verdict`
    (queueing the increments) and the statements that write scorecard_days at commit."""
    from sqlalchemy import event

    from dispatch.audit import scorecards

    kept = scorecards.count_verdict

    def counted(*args: Any, **kwargs: Any) -> None:
        t0 = time.perf_counter()
        kept(*args, **kwargs)
        spent.append(time.perf_counter() - t0)

    def before(conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "scorecard_days" in statement:
            conn.info["bench_t0"] = time.perf_counter()

    def after(conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        t0 = conn.info.pop("bench_t0", None)
        if t0 is not None:
            spent.append(time.perf_counter() - t0)

    scorecards.count_verdict = counted
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        scorecards.count_verdict = kept
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def verdict_cost(bench: Bench, db: str, server: Server, per_arm: int) -> None:
    """Answer->verdict transactions with and without the tally, alternately; the ratio of times,
    and the tally's own time inside the transactions that keep it (measured there)."""
    from dispatch.audit import callbacks
    from dispatch.audit.trail import make_session_factory
    from dispatch.platform.actors import Actor
    from dispatch.platform.config import load_settings
    from dispatch.platform.db import make_engine

    warm = 10
    ids = closed_callbacks(bench, db, server, 2 * per_arm + warm)
    settings = load_settings({"DATABASE_URL": bench.url(db)}, webhooks=False)
    engine = make_engine(bench.url(db))
    sessions = make_session_factory(engine)
    actor = Actor.system("bench")
    times: dict[bool, list[float]] = {True: [], False: []}
    tally: list[float] = []
    try:
        for k, callback_id in enumerate(ids):
            with_tally = k % 2 == 0
            spent: list[float] = []
            arm = tally_timed(engine, spent) if with_tally else tally_off()
            with sessions() as session, arm:
                t0 = time.perf_counter()
                callbacks.record_answer(
                    session,
                    callback_id,
                    callbacks.CustomerAnswer("done", rating="very_satisfied"),
                    channel="voice",
                    actor=actor,
                    settings=settings,
                )
                session.commit()
                took = (time.perf_counter() - t0) * 1000
            if k >= warm:
                times[with_tally].append(took)
                if with_tally:
                    tally.append(sum(spent) * 1000)
    finally:
        engine.dispose()
    on, off = times[True], times[False]
    for label, values in (
        ("with the tally", on),
        ("tally switched off", off),
        ("the tally itself, inside", tally),
    ):
        bench.add(
            "verdict path",
            what=label,
            verdicts=len(values),
            **{
                "mean ms": statistics.fmean(values),
                "p50 ms": statistics.median(values),
                "p95 ms": _pct(values, 0.95),
            },
        )
    for label, extra in (
        ("extra cost, A/B (p50 with / p50 without)", statistics.median(on) / statistics.median(off) - 1),
        ("extra cost, A/B (mean with / mean without)", statistics.fmean(on) / statistics.fmean(off) - 1),
        ("extra cost, measured inside (tally / rest)", sum(tally) / (sum(on) - sum(tally))),
    ):
        bench.add(
            "verdict path",
            what=label,
            ratio=f"{extra:+.1%}",
            target=f"< 10%: {'met' if extra < 0.10 else 'MISSED'}",
        )


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def phase_reports(bench: Bench) -> None:
    """Bulk-load, then time the reports through gunicorn and the verdict path with and without the tally."""
    db = bench.create_db("reports")
    seed(bench, db)
    loaded = bulk_load(bench, db, bench.args.reports_orders)
    bench.add(
        "reports load",
        orders=loaded["orders"],
        **{
            "aggregate rows": loaded["cells"],
            "load s": loaded["load s"],
            "aggregates s": loaded["aggregates s"],
        },
    )
    env = bench.env(
        DISPATCH_DATABASE_URL=bench.url(db),
        DISPATCH_REDIS_URL=bench.args.redis,
        DISPATCH_QUEUE_PREFIX=f"bench-{bench.run_id}-reports",
        DISPATCH_TELEPHONY_BACKEND="simulator",
        DISPATCH_RATE_LIMIT_SALES="100000000/minute",
        DISPATCH_RATE_LIMIT_CLOSE="100000000/minute",
        DISPATCH_SIMULATOR_SIGNING_SECRET=secrets.token_urlsafe(32),
        DISPATCH_SECRET_KEY=secrets.token_urlsafe(32),
    )
    server = gunicorn("reports", "dispatch.wsgi:app", env, bench.cwd, "/api/v1/health")
    bench.servers.append(server)
    try:
        measure_reports(bench, server, loaded["last"], bench.args.reports_requests)
        verdict_cost(bench, db, server, bench.args.reports_verdicts)
    finally:
        server.stop()
        bench.servers.remove(server)
