"""The growth phase: intake and lookups with many customers already stored (bulk-loaded)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import psycopg

from dispatch.bench import load
from dispatch.bench.procs import Server
from dispatch.bench.rows import Bench, budget, measure, ratio, sales_file, scalar, warm_up

SYLLABLES = (
    "ka lo mi ne ru sa te vo zi ba de fi go hu ja ko li mo nu pa ri so tu va we xi yo za bo du".split()
)


FIRST = "Ana Ben Cara Dan Eva Finn Gia Hal Ida Jon Kim Leo Mia Ned Ola Pam Quin Rosa Sam Tia".split()


STREETS = (
    "Elm Oak Pine Maple Cedar Birch Walnut Spruce Willow Ash Poplar Hickory Chestnut Linden Alder".split()
)


BULK_SQL = """
INSERT INTO customers (name, phone, address, city_id, created_at)
SELECT (%(first)s::text[])[1 + (h / 27000) %% {nf}] || ' ' ||
       initcap((%(syl)s::text[])[1 + h %% 30] || (%(syl)s::text[])[1 + (h / 30) %% 30] ||
               (%(syl)s::text[])[1 + (h / 900) %% 30]),
       '+1312' || (200 + (i / 10000) %% 800)::text || lpad((i %% 10000)::text, 4, '0'),
       (1 + i %% 9999)::text || ' ' || (%(streets)s::text[])[1 + (h / 540000) %% {ns}] || ' Street',
       %(city)s, now()
FROM generate_series(%(a)s::bigint, %(b)s::bigint) AS i,
     LATERAL (SELECT abs(('x' || substr(md5(i::text), 1, 8))::bit(32)::int) AS h) AS hh
"""


def bulk_load(bench: Bench, db: str, target: int) -> tuple[int, float]:
    """Fill customers (and one unit each) up to `target` rows with generate_series; returns (added, s)."""
    t0 = time.perf_counter()
    with psycopg.connect(bench.conninfo(db), autocommit=True) as conn:
        have = scalar(conn, "SELECT count(*) FROM customers WHERE phone LIKE '+1312%%'")
        if have >= target:
            return 0, 0.0
        city = scalar(conn, "SELECT id FROM cities WHERE name = 'Springfield'")
        model = scalar(conn, "SELECT id FROM product_models WHERE code = 'EW-50'")
        last = scalar(conn, "SELECT coalesce(max(id), 0) FROM customers")
        sql = BULK_SQL.format(nf=len(FIRST), ns=len(STREETS))
        step = 200_000
        for a in range(have, target, step):
            b = min(target, a + step) - 1
            conn.execute(
                sql, {"first": FIRST, "syl": SYLLABLES, "streets": STREETS, "city": city, "a": a, "b": b}
            )
        conn.execute(
            "INSERT INTO units (customer_id, product_model_id, address, city_id, purchased_at, created_at) "
            "SELECT id, %s, address, city_id, now(), now() FROM customers WHERE id > %s",
            (model, last),
        )
        conn.execute("VACUUM ANALYZE customers")
        conn.execute("VACUUM ANALYZE units")
    return target - have, time.perf_counter() - t0


def lookup_queries(bench: Bench, db: str, count: int) -> dict[str, list[str]]:
    """Queries an agent would type: a bulk customer's phone (national format), surname, street."""
    with psycopg.connect(bench.conninfo(db)) as conn:
        rows = conn.execute(
            "SELECT phone, name, address FROM customers WHERE phone LIKE '+1312%%' "
            "ORDER BY md5(id::text || %s) LIMIT %s",
            (bench.run_id, count),
        ).fetchall()
    out: dict[str, list[str]] = {"phone": [], "name": [], "address": []}
    for phone, name, address in rows:
        out["phone"].append(f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}")
        out["name"].append(name.split()[-1][:7].lower())  # part of the surname
        number, street = address.split()[:2]
        out["address"].append(f"{number} {street.lower()}")
    return out


def explain_search(bench: Bench, db: str, **criterion: str) -> tuple[float, set[str], bool]:
    """EXPLAIN ANALYZE the exact SQL directory.search sends; (ms, indexes used, any seq scan)."""
    from sqlalchemy import event

    from dispatch.audit.trail import make_session_factory
    from dispatch.customers import directory
    from dispatch.platform.db import make_engine

    engine = make_engine(bench.url(db))
    captured: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM customers" in statement:
            captured.append((statement, parameters))

    with make_session_factory(engine)() as session:
        directory.search(
            session,
            region="US",
            phone=criterion.get("phone"),
            name=criterion.get("name"),
            address=criterion.get("address"),
        )
        statement, params = captured[-1]
        raw = session.connection().connection.driver_connection
        if raw is None:
            raise RuntimeError("no driver connection to EXPLAIN on")
        with raw.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
            plan = cur.fetchone()[0][0]
    engine.dispose()
    indexes: set[str] = set()
    seq = False

    def walk(node: dict) -> None:
        nonlocal seq
        if node.get("Index Name"):
            indexes.add(node["Index Name"])
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in ("customers", "units"):
            seq = True
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    return plan["Execution Time"], indexes, seq


def phase_growth(bench: Bench, db: str, server: Server) -> None:
    """Intake and lookups with N customers already stored: the cost must not grow with N."""
    auth = {"Authorization": "Bearer " + bench.tokens["demo-agent"]}
    warm_up(bench, server.url, sales_file(bench, 100, key=True, token=bench.tokens["demo-sales"]))
    for target in bench.args.growth:
        added, took = bulk_load(bench, db, target)
        bench.add("growth", stored=target, what=f"bulk load (+{added:,} customers and units)", seconds=took)
        file = sales_file(
            bench, budget(bench, bench.insert_peak or 500), key=True, token=bench.tokens["demo-sales"]
        )
        conc = bench.args.growth_conc
        result = measure(bench, "growth", "sale intake + key", server.url, file, conc, stored=target)
        bench.rows[-1].cells["of INSERT"] = ratio(bench, result.rps, conc)
        queries = lookup_queries(bench, db, 300)
        for kind, values in queries.items():
            lines = [("GET", f"/api/v1/customers?{kind}={quote(v)}", auth, "") for v in values] * 40
            measure(
                bench, "growth", f"lookup by {kind}", server.url, load.write_requests(lines), 1, stored=target
            )
            ms, indexes, seq = explain_search(bench, db, **{kind: values[0]})
            cells = bench.rows[-1].cells
            cells["SQL ms"] = ms
            cells["plan"] = ("SEQ SCAN! " if seq else "") + ",".join(sorted(indexes))
