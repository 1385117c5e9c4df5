"""The gather webhook's phase: signed POSTs, each for a distinct live call."""

from __future__ import annotations

import time

import psycopg

from dispatch.bench import load
from dispatch.bench.procs import Server, gunicorn, stop, worker_settings
from dispatch.bench.rows import Bench, close_file, drive, measure, open_orders, sales_file, scalar, warm_up


def phase_gather(bench: Bench, db: str, main_server: Server) -> None:
    """POSTs of the gather webhook, each for a distinct live call, signed with a known auth token."""
    from dispatch.bench import gather

    token = f"bench-{bench.run_id}-twilio-token"
    env = bench.env(**{**worker_settings(bench), **gather.server_env(token)})
    server = gunicorn("dispatch-twilio", "dispatch.wsgi:app", env, bench.cwd, "/api/v1/health")
    bench.servers.append(server)
    bench.mem.track("api worker (Dispatch, Twilio webhooks)", server.pid, children_only=True)
    settings = gather.domain_settings(token)
    close_rps = {
        r.cells["conc"]: r.cells["req/s"]
        for r in bench.rows
        if r.cells.get("what") == "close" and isinstance(r.cells.get("req/s"), float)
    }
    measured: list = []
    sent, best = 0, 0.0
    try:
        # The first requests of each gunicorn worker pay for imports: spend a few calls on that.
        calls = seed_calls(bench, db, main_server, settings, 50, 50)
        warm_up(bench, server.url, load.write_requests([gather.gather_request(c, token) for c in calls]))
        for conc in bench.args.concurrency:
            # Every call is used once and costs a sale, a closing and the dialling to prepare: size
            # each run from what closings reached (a gather costs about half a closing) and the
            # gathers measured so far, with less room than the other rows' budget.
            guess = max(20.0, 2 * close_rps.get(conc, max(close_rps.values(), default=10.0)), 1.1 * best)
            count = int(guess * bench.args.seconds * 1.3) + 50
            calls = seed_calls(bench, db, main_server, settings, count, guess / 2)
            measured += calls
            file = load.write_requests([gather.gather_request(c, token) for c in calls])
            result = measure(bench, "dispatch", gather.LABEL, server.url, file, conc, of_insert=True)
            sent += result.requests
            best = max(best, result.rps)
        time.sleep(1)  # requests still in flight when wrk stopped
        recorded = count_answered(bench, db, measured)
    finally:
        stop(bench, server)
    # A 200 alone does not show the answer was recorded (a finished call also gets 200 TwiML).
    if recorded < sent:
        bench.notes.append(f"gather: {sent} answered 200 but only {recorded} answers recorded")
        bench.rows[-1].cells["errors"] = sent - recorded


def count_answered(bench: Bench, db: str, calls: list) -> int:
    """How many of these calls got their answer recorded by the gather webhook."""
    from dispatch.audit.trail import make_session_factory
    from dispatch.bench import gather
    from dispatch.platform.db import make_engine

    engine = make_engine(bench.url(db))
    try:
        with make_session_factory(engine)() as session:
            return gather.answered(session, calls)
    finally:
        engine.dispose()


def seed_calls(bench: Bench, db: str, server: Server, settings: dict, count: int, rate: float) -> list:
    """`count` live calls; closes (and first sells) more orders through the API when short."""
    from dispatch.audit.trail import make_session_factory
    from dispatch.bench import gather
    from dispatch.platform.db import make_engine

    t0 = time.perf_counter()
    engine = make_engine(bench.url(db))
    with make_session_factory(engine)() as session:
        short = count - len(gather.waiting_callbacks(session, count))
    engine.dispose()
    if short > 0:
        make_closed_orders(bench, db, server, short, rate)
    t1 = time.perf_counter()
    calls = gather.seed_live_calls(bench.url(db), settings, count)
    if bench.args.verbose:
        print(
            f"  (gather: {max(short, 0)} orders sold and closed in {t1 - t0:.1f}s, "
            f"{len(calls)} live calls seeded in {time.perf_counter() - t1:.1f}s)",
            flush=True,
        )
    return calls


def make_closed_orders(bench: Bench, db: str, server: Server, count: int, rate: float) -> None:
    """Sell and close `count` more orders through the API (each closing plans a callback)."""

    def q(sql: str) -> int:
        with psycopg.connect(bench.conninfo(db)) as conn:
            return scalar(conn, sql)

    open_sql = (
        "SELECT count(*) FROM work_orders w JOIN providers p ON p.id = w.provider_id "
        "WHERE p.code = 'SPR-HEAT' AND w.state IN ('pending', 'booked')"
    )
    token = bench.tokens["demo-sales"]
    have = q(open_sql)
    if have < count:
        base = q("SELECT count(*) FROM sales")
        drive(
            bench,
            server.url,
            lambda left: sales_file(bench, left, key=False, token=token),
            lambda: base + count - have - q("SELECT count(*) FROM sales"),
            rate,
        )
    closed = q("SELECT count(*) FROM visits")
    drive(
        bench,
        server.url,
        lambda left: close_file(bench, open_orders(bench, db, left)),
        lambda: min(q(open_sql), closed + count - q("SELECT count(*) FROM visits")),
        rate,
    )
