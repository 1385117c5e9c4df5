"""The care phase: a campaign preview and the daily maintenance scan over many units (bulk-loaded).

Its own database: customers and one unit each loaded with generate_series across the demo cities
and product models, purchases spread over four years, some numbers opted out and some customers
erased, so that every reason of a preview has customers. Then, each timed on its own:
- the preview of a frost campaign (gas lines, two cold cities): one set-based query;
- the daily scan: recording the invitations of every unit coming due (INSERT ... SELECT);
- a second scan the same day (nothing new to record: what a second scheduler costs);
- the count of units past due (the hotline's list).
"""

from __future__ import annotations

import time

import psycopg

from dispatch.bench.rows import Bench, scalar, seed

UNITS_SQL = """
INSERT INTO customers (name, phone, address, city_id, created_at, erased_at)
SELECT 'Care ' || i, '+1415' || lpad(i::text, 7, '0'), i || ' Frost Lane',
       (%(cities)s::int[])[1 + i %% cardinality(%(cities)s::int[])], now(),
       CASE WHEN i %% 997 = 0 THEN now() END
  FROM generate_series(%(a)s::bigint, %(b)s::bigint) AS i
"""

UNIT_ROWS_SQL = """
INSERT INTO units (customer_id, product_model_id, address, city_id, purchased_at, created_at)
SELECT c.id, (%(models)s::int[])[1 + c.id %% cardinality(%(models)s::int[])], c.address, c.city_id,
       now() - make_interval(days => ((c.id::bigint * 7919) %% 1460)::int), now()
  FROM customers c WHERE c.phone LIKE '+1415%%' AND c.id > %(last)s
"""


ORDERS_SQL = """
INSERT INTO work_orders (kind, state, unit_id, customer_id, city_id, product_line_id, provider_id,
                         maintenance_plan_id, created_by_id, created_at, updated_at, booking_version)
SELECT %(kind)s, 'verified', u.id, u.customer_id, u.city_id, m.product_line_id, %(provider)s, p.id,
       %(user)s, u.purchased_at + make_interval(days => %(after)s), now(), 3
  FROM units u
  JOIN product_models m ON m.id = u.product_model_id
  LEFT JOIN maintenance_plans p ON p.product_line_id = m.product_line_id AND %(kind)s = 'maintenance'
 WHERE u.id > %(last)s AND u.id %% %(every)s = 0 AND (%(kind)s <> 'maintenance' OR p.id IS NOT NULL)
"""

VISITS_SQL = """
INSERT INTO visits (work_order_id, provider_id, installer_id, outcome, visited_at, closed_by_id, closed_at)
SELECT w.id, w.provider_id, %(installer)s, 'completed', w.created_at, %(user)s, w.created_at
  FROM work_orders w WHERE w.id > %(last)s
"""


def bulk_load(bench: Bench, db: str, units: int) -> float:
    """One customer and one unit per row, `units` of them, half of them installed (a verified
    visit 10 days after purchase) and one in 20 maintained (a year later); returns the seconds."""
    t0 = time.perf_counter()
    with psycopg.connect(bench.conninfo(db), autocommit=True) as conn:
        cities = [r[0] for r in conn.execute("SELECT id FROM cities ORDER BY id")]
        models = [r[0] for r in conn.execute("SELECT id FROM product_models ORDER BY id")]
        last = scalar(conn, "SELECT coalesce(max(id), 0) FROM customers")
        last_unit = scalar(conn, "SELECT coalesce(max(id), 0) FROM units")
        last_order = scalar(conn, "SELECT coalesce(max(id), 0) FROM work_orders")
        who = {
            "provider": scalar(conn, "SELECT id FROM providers WHERE code = 'SPR-HEAT'"),
            "installer": scalar(conn, "SELECT id FROM installers WHERE code = 'SH-01'"),
            "user": scalar(conn, "SELECT id FROM users WHERE name = 'demo-agent'"),
        }
        step = 250_000
        for a in range(0, units, step):
            conn.execute(UNITS_SQL, {"cities": cities, "a": a + 1, "b": min(units, a + step)})
        conn.execute(UNIT_ROWS_SQL, {"models": models, "last": last})
        for kind, every, after in (("installation", 2, 10), ("maintenance", 20, 375)):
            conn.execute(ORDERS_SQL, {"kind": kind, "every": every, "after": after, "last": last_unit, **who})
        conn.execute(VISITS_SQL, {"last": last_order, **who})
        # One number in 50 said STOP.
        conn.execute(
            "INSERT INTO opt_outs (phone, source, created_at) SELECT phone, 'bench', now() FROM customers "
            "WHERE phone LIKE '+1415%%' AND id %% %(every)s = 0",
            {"every": 50},
        )
        conn.execute("VACUUM ANALYZE customers")
        conn.execute("VACUUM ANALYZE units")
        conn.execute("VACUUM ANALYZE opt_outs")
        conn.execute("VACUUM ANALYZE work_orders")
        conn.execute("VACUUM ANALYZE visits")
    return time.perf_counter() - t0


def phase_care(bench: Bench, units: int) -> None:
    """Bulk-load `units`, then time the campaign preview and the daily maintenance scan."""
    from sqlalchemy import text

    from dispatch.audit.trail import make_session_factory
    from dispatch.care import campaigns, maintenance, plans
    from dispatch.platform.actors import Actor
    from dispatch.platform.config import DEFAULTS
    from dispatch.platform.db import make_engine

    db = bench.create_db("care")
    seed(bench, db)
    engine = make_engine(bench.url(db))
    factory = make_session_factory(engine)
    actor = Actor.system("bench")
    with factory() as session:
        supervisor = session.scalar(text("SELECT id FROM users WHERE name = 'demo-supervisor'"))
        for code, line, months in (("gas-clean", "gas_wh", 12), ("boiler-check", "gas_boiler", 12)):
            plans.upsert_plan(session, actor, code=code, name=code, product_line=line, interval_months=months)
        plans.upsert_plan(
            session,
            actor,
            code="electric-descale",
            name="descaling",
            product_line="electric_wh",
            interval_months=24,
        )
        campaign = campaigns.save_campaign(
            session,
            Actor(user_id=supervisor, role="supervisor"),
            code="frost",
            name="Frost protection",
            product_lines=["gas_wh", "gas_boiler"],
            cities=["Riverton", "Lakeside"],
            texts={"en": "Protect your gas unit from frost.", "zh-CN": "请为燃气热水器做好防冻。"},
        )
        session.commit()
        campaign_id = campaign.id
    loaded = bulk_load(bench, db, units)
    settings = dict(DEFAULTS)

    with factory() as session:
        t0 = time.perf_counter()
        preview = campaigns.preview(session, campaign_id, settings)
        preview_s = time.perf_counter() - t0
    with factory() as session:
        t0 = time.perf_counter()
        recorded = maintenance.record_due(session) or 0
        session.commit()
        scan_s = time.perf_counter() - t0
    with factory() as session:
        t0 = time.perf_counter()
        again = maintenance.record_due(session) or 0
        session.commit()
        rescan_s = time.perf_counter() - t0
    with factory() as session:
        t0 = time.perf_counter()
        overdue = maintenance.past_due_count(session)
        past_due_s = time.perf_counter() - t0
    engine.dispose()
    table = "care (set-based SQL over units)"
    bench.add(table, step="bulk load (customers, units, orders, visits)", units=units, seconds=loaded)
    bench.add(
        table,
        step="campaign preview (target < 5 s)",
        units=units,
        seconds=preview_s,
        result=f"{preview.would_contact} to contact, {preview.left_out} left out",
    )
    bench.add(table, step="daily maintenance scan", units=units, seconds=scan_s, result=f"{recorded} invited")
    bench.add(table, step="second scan, same day", units=units, seconds=rescan_s, result=f"{again} invited")
    bench.add(
        table, step="units past due (count)", units=units, seconds=past_due_s, result=f"{overdue} past due"
    )
    if units >= 1_000_000 and preview_s >= 5:
        bench.notes.append(f"campaign preview over {units} units took {preview_s:.1f} s: over its 5 s target")
