"""Phases of sale intake: the ceilings (a trivial endpoint, a single INSERT), sales synchronous and
asynchronous, with and without Idempotency-Key, their registration by a worker, closings."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import psycopg

from dispatch.bench import load
from dispatch.bench.procs import POST_JSON, Server, gunicorn, start_worker, stop, worker_settings
from dispatch.bench.rows import (
    ASYNC,
    ASYNC_KEY,
    CALLBACKS_WHY,
    REGISTRATION,
    SYNC,
    SYNC_KEY,
    Bench,
    budget,
    callbacks_available,
    close_file,
    measure,
    one_row,
    open_orders,
    sale_body,
    sales_file,
    warm_up,
)
from dispatch.bench.webhooks import phase_gather


def phase_ceilings(bench: Bench) -> None:
    """The trivial JSON endpoint and the single INSERT, on the same gunicorn set-up."""
    db = bench.create_db("ceiling")
    server = gunicorn(
        "ceiling", "dispatch.bench.ceiling:app", bench.env(BENCH_CEILING_DB=bench.url(db)), bench.cwd, "/json"
    )
    bench.servers.append(server)
    bench.mem.track("api worker (ceiling)", server.pid, children_only=True)
    warm_up(bench, server.url, load.write_requests([("GET", "/json", {}, "")] * 200))
    for conc in bench.args.concurrency:
        file = load.write_requests([("GET", "/json", {}, "")] * budget(bench, 6000))
        measure(bench, "ceilings", "trivial JSON", server.url, file, conc)
    for conc in bench.args.concurrency:
        body = json.dumps(sale_body(0), separators=(",", ":"))
        file = load.write_requests([("POST", "/insert", POST_JSON, body)] * budget(bench, 3000))
        result = measure(bench, "ceilings", "single INSERT", server.url, file, conc)
        bench.ceiling[conc] = result.rps
    bench.insert_peak = max(bench.ceiling.values())
    server.stop()
    bench.servers.remove(server)


def phase_dispatch(bench: Bench, db: str, server: Server) -> None:
    """Sale intake (sync and async, with and without Idempotency-Key), registration, close, gather."""
    sales_token = bench.tokens["demo-sales"]
    guess = bench.insert_peak or 500
    warm_up(bench, server.url, sales_file(bench, 100, key=True, token=sales_token))
    for label, key in ((SYNC, False), (SYNC_KEY, True)):
        for conc in bench.args.concurrency:
            file = sales_file(bench, budget(bench, guess), key=key, token=sales_token)
            measure(bench, "dispatch", label, server.url, file, conc, of_insert=True)
    half_peak(bench, server, SYNC, respond_async=False)
    why_not = async_unavailable(bench, server)
    if why_not:
        for label in (ASYNC, ASYNC_KEY, REGISTRATION):
            bench.add("dispatch", what=label, conc="-", **{"req/s": f"not available: {why_not}"})
    else:
        # No worker runs during these rows: they measure the acceptance path alone (the receipts
        # wait); the registration row after them measures the worker's side.
        warm_up(bench, server.url, sales_file(bench, 100, key=True, token=sales_token, respond_async=True))
        for label, key in ((ASYNC, False), (ASYNC_KEY, True)):
            for conc in bench.args.concurrency:
                file = sales_file(bench, budget(bench, guess), key=key, token=sales_token, respond_async=True)
                measure(bench, "dispatch", label, server.url, file, conc, expect="202", of_insert=True)
        half_peak(bench, server, ASYNC, respond_async=True)
        registration(bench, db)
    for conc in bench.args.concurrency:
        # The orders the intake runs opened, not closed yet: each close is a distinct order. wrk
        # stops with requests in flight that the server still finishes: let them land first.
        time.sleep(1)
        chunk = open_orders(bench, db, budget(bench, guess))
        measure(bench, "dispatch", "close", server.url, close_file(bench, chunk), conc, of_insert=True)
    if callbacks_available():
        phase_gather(bench, db, server)
    else:
        bench.add(
            "dispatch",
            what="Twilio gather webhook",
            conc="-",
            **{"req/s": f"not available yet: {CALLBACKS_WHY}"},
        )


def half_peak(bench: Bench, server: Server, label: str, *, respond_async: bool) -> None:
    """Intake paced at about half the peak rate of `label`: the p99 the issue's target is about."""
    peak, peak_conc = max(
        (
            (r.cells["req/s"], r.cells["conc"])
            for r in bench.rows
            if r.cells.get("what") == label and isinstance(r.cells.get("req/s"), float)
        ),
        default=(0.0, 0),
    )
    if not peak:
        return
    target = peak / 2
    conc = max(2, min(8, peak_conc))
    # Each connection sends, waits for the answer, then pauses: rate = conc / (latency + pause).
    guess_latency_ms = 1000 * peak_conc / peak
    delay = max(0.0, 1000 * conc / target - guess_latency_ms / 2)
    target_column: dict[str, Any] = {"target req/s": target}
    file = sales_file(
        bench, budget(bench, target), key=True, token=bench.tokens["demo-sales"], respond_async=respond_async
    )
    measure(
        bench,
        "dispatch",
        f"{label.split(' (')[0]} + key, paced to ~half peak",
        server.url,
        file,
        conc,
        expect="202" if respond_async else None,
        delay_ms=delay,
        **target_column,
    )


def async_unavailable(bench: Bench, server: Server) -> str:
    """Why `Prefer: respond-async` cannot be measured on this tree ("" when it can)."""
    body = json.dumps(sale_body(bench.next_n(1)[0]), separators=(",", ":")).encode()
    headers = {
        **POST_JSON,
        "Authorization": "Bearer " + bench.tokens["demo-sales"],
        "Prefer": "respond-async",
    }
    request = urllib.request.Request(server.url + "/api/v1/sales", body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    if status == 202:
        return ""
    return f"POST /api/v1/sales with Prefer: respond-async answered {status}, not 202"


def receipt_counts(bench: Bench, db: str) -> dict[str, int]:
    """Sale receipts by status."""
    with psycopg.connect(bench.conninfo(db)) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM sale_receipts GROUP BY status").fetchall())


def registration(bench: Bench, db: str) -> None:
    """One worker (with `rq cron`'s register_sales) registers the receipts the intake rows left."""
    waiting = receipt_counts(bench, db).get("accepted", 0)
    target = min(waiting, bench.args.registration_max)
    if not target:
        return
    procs = start_worker(bench, bench.env(**worker_settings(bench)))
    t0 = time.perf_counter()
    done, last_change, stalled = 0, t0, False
    with bench.mem.watching():
        while done < target:
            time.sleep(0.2)
            now_done = sum(v for k, v in receipt_counts(bench, db).items() if k != "accepted")
            if now_done != done:
                done, last_change = now_done, time.perf_counter()
            elif time.perf_counter() - last_change > 60:
                stalled = True
                break
    wall = time.perf_counter() - t0
    left = 0
    with psycopg.connect(bench.conninfo(db), autocommit=True) as conn:
        if waiting > target:
            # Receipts beyond the measured sample: set aside so that no later phase's worker spends
            # its time on them (this database is the bench's own; nothing else reads it).
            left = conn.execute(
                "UPDATE sale_receipts SET status = 'rejected', processed_at = now(), "
                """errors = '{"bench": "not registered: beyond the measured sample"}' """
                "WHERE status = 'accepted'"
            ).rowcount
        n, rejected, first, last, first_batch = one_row(
            conn,
            "WITH p AS (SELECT * FROM sale_receipts WHERE status <> 'accepted' AND errors->>'bench' IS NULL) "
            "SELECT count(*), count(*) FILTER (WHERE status = 'rejected'), min(processed_at), "
            "max(processed_at), count(*) FILTER (WHERE processed_at = (SELECT min(processed_at) FROM p)) "
            "FROM p",
        )
    stop(bench, *procs)
    # From the first registration to the last: the worker's and cron's start-up are not the
    # worker's rate (they are in "wall s"); the first batch's own time is not in the span either.
    span = (last - first).total_seconds() if n and last > first else 0.0
    rate = (n - first_batch) / span if span else 0.0
    bench.add(
        "dispatch",
        what=REGISTRATION,
        conc="1 worker",
        **{
            "req/s": rate,
            "requests": n,
            "errors": rejected,
            "of INSERT": f"{100 * rate / bench.insert_peak:.0f}%" if bench.insert_peak else "-",
            "wall s": wall,
        },
    )
    if rejected:
        bench.notes.append(f"registration: {rejected} receipts rejected (see sale_receipts.errors)")
    if stalled:
        bench.notes.append(f"registration: stalled at {done} of {target} receipts ({procs[-1].log})")
    if left:
        bench.notes.append(
            f"registration: measured on the first {target:,} of {waiting:,} accepted receipts "
            f"(--registration-max); the other {left:,} were set aside"
        )
