"""The month replay: a month's orders from sale to verdict through the real API, `rq cron` and one
worker, with CPU by role and verdicts per second as the backlog drains."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from dispatch.bench import cpu as cpu_use
from dispatch.bench import load
from dispatch.bench.procs import (
    POST_JSON,
    Server,
    free_port,
    gunicorn,
    start_worker,
    stop,
    wait_listening,
    worker_settings,
)
from dispatch.bench.rows import (
    ASYNC,
    CALLBACKS_WHY,
    SYNC,
    Bench,
    callbacks_available,
    close_file,
    drive,
    open_orders,
    peak_rate,
    sale_body,
    scalar,
)


def month_settings(url: str) -> dict[str, str]:
    """Callbacks due at once, calling hours all day, simulated customers answering at once."""
    return {
        "DISPATCH_PUBLIC_BASE_URL": url,
        "DISPATCH_CALLING_HOURS_START": "00:00",
        "DISPATCH_CALLING_HOURS_END": "24:00",
        "DISPATCH_CALLBACK_DELAY_COMPLETED_MINUTES": "0",
        "DISPATCH_CALLBACK_DELAY_NOT_HOME_MINUTES": "0",
        "DISPATCH_CALLBACK_DELAY_OTHER_MINUTES": "0",
        "DISPATCH_SIMULATOR_ANSWER_SECONDS": "0",
        # Twilio's account default is 1 new call per second; the replay measures Dispatch, not that.
        "DISPATCH_OUTBOUND_CALLS_PER_SECOND": "1000",
        "DISPATCH_OUTBOUND_SMS_PER_SECOND": "1000",
        "DISPATCH_WEBHOOK_RATE_LIMIT": "100000000/minute",
    }


def by_fifth(progress: list[tuple[float, int]], n: int) -> str:
    """Verdicts per second in each fifth of `n` (from (seconds, verdicts so far) samples)."""
    rates = []
    for k in range(5):
        lo, hi = n * k // 5, n * (k + 1) // 5
        start = next(t for t, d in progress if d >= lo)
        end = next(t for t, d in progress if d >= hi)
        rates.append(f"{(hi - lo) / max(end - start, 1e-9):.2f}")
    return " / ".join(rates)


def wait_drained(bench: Bench, waiting: Callable[[], int], worker: Server, stall: float = 60) -> None:
    """Wait until `waiting()` is 0, or note a stall (no progress for `stall` seconds)."""
    last, last_change = -1, time.perf_counter()
    while (left := waiting()) > 0:
        if left != last:
            last, last_change = left, time.perf_counter()
        elif time.perf_counter() - last_change > stall:
            bench.notes.append(f"month: registration stalled with {left} receipts waiting ({worker.log})")
            return
        time.sleep(0.2)


def month_cpu(server: Server) -> cpu_use.CpuUse:
    """CPU time by role over the month's phases (job workers and cron are added as they start)."""
    cpu = cpu_use.CpuUse()
    cpu.track("api (gunicorn)", server.pid, children_only=True)
    cpu.track_named("postgresql", "postgres")
    cpu.track_named("redis", "redis-server")
    cpu.track_named("wrk (load)", "wrk")
    cpu.start()
    return cpu


def track_jobs(cpu: cpu_use.CpuUse, procs: list[Server]) -> list[Server]:
    """Count `start_worker`'s processes ([cron, *workers]) in `cpu`; returns them."""
    cron, *workers = procs
    cpu.track("rq cron", cron.pid)
    for worker in workers:
        cpu.track("job workers", worker.pid)
    return procs


def cpu_rows(bench: Bench, cpu: cpu_use.CpuUse, orders: dict[str, int]) -> None:
    """The month's CPU table: per phase, CPU milliseconds per order by role, and how busy the machine was."""
    roles = ["api (gunicorn)", "job workers", "rq cron", "postgresql", "redis", "wrk (load)"]
    for phase in cpu.phases:
        n = max(orders[phase.label], 1)
        busy = phase.machine - phase.idle
        bench.add(
            "month: CPU ms per order, by process",
            phase=phase.label,
            **{role: 1000 * phase.by_role.get(role, 0.0) / n for role in roles},
            **{
                "rest": 1000 * (busy - sum(phase.by_role.values())) / n,
                "machine busy": f"{100 * busy / max(phase.machine, 1e-9):.0f}%",
            },
        )


def phase_month(bench: Bench, db: str, server: Server) -> None:
    """A month's orders from sale to verdict through the real API, `rq cron` and one worker."""
    n = bench.args.month
    if not callbacks_available():
        bench.add("month", orders=n, what="sale to verdict", wall=f"not available yet: {CALLBACKS_WHY}")
        return
    token = bench.tokens["demo-sales"]
    rate = max(20.0, peak_rate(bench, SYNC) or 50.0)

    def q(sql: str) -> int:
        with psycopg.connect(bench.conninfo(db)) as conn:
            return scalar(conn, sql)

    # A server of its own: callbacks due at once, and webhooks from the simulator come back to it.
    port = free_port()
    env = bench.env(**worker_settings(bench), **month_settings(f"http://127.0.0.1:{port}"))
    server = gunicorn("dispatch-month", "dispatch.wsgi:app", env, bench.cwd, "/api/v1/health", port)
    bench.servers.append(server)
    intake = bench.args.month_intake
    if intake == "async":
        # No probe request here: its sale would become one of the replay's orders.
        if not q("SELECT count(*) FROM pg_tables WHERE tablename = 'sale_receipts'"):
            bench.notes.append("month: Prefer: respond-async is not available; sales went in synchronously")
            intake = "sync"
        else:
            rate = max(rate, peak_rate(bench, ASYNC))
    base_sales = q("SELECT count(*) FROM sales")

    # Customers whose simulated phone answers the robot (last digit 0-6); 7-9 end with a person.
    def make_sales(left: int) -> Path:
        headers = {**POST_JSON, "Authorization": f"Bearer {token}"}
        if intake == "async":
            headers["Prefer"] = "respond-async"
        lines: list[tuple[str, str, dict[str, str], str]] = []
        while len(lines) < left:
            m = bench.next_n(1)[0]
            if m % 10 < 7:
                lines.append(
                    ("POST", "/api/v1/sales", headers, json.dumps(sale_body(m), separators=(",", ":")))
                )
        return load.write_requests(lines)

    # Close what is open now first, so that only the replay's orders get callbacks.
    with psycopg.connect(bench.conninfo(db), autocommit=True) as conn:
        conn.execute(
            "UPDATE work_orders SET state = 'cancelled' WHERE state IN ('pending', 'booked', 'unassigned')"
        )
        base_callbacks = scalar(conn, "SELECT coalesce(max(id), 0) FROM callbacks")
    cpu = month_cpu(server)
    if intake == "async":
        # As in production, the worker and rq cron run while sales arrive and register them as
        # they come; the replay goes on to the closings once every receipt is registered.
        procs = track_jobs(cpu, start_worker(bench, env, bench.args.month_workers))
        wait_listening(procs[-1])
        base_receipts = q("SELECT count(*) FROM sale_receipts")
        t0 = time.perf_counter()
        drive(
            bench,
            server.url,
            make_sales,
            lambda: base_receipts + n - q("SELECT count(*) FROM sale_receipts"),
            rate,
        )
        wait_drained(
            bench, lambda: q("SELECT count(*) FROM sale_receipts WHERE status = 'accepted'"), procs[-1]
        )
        t_sales = time.perf_counter() - t0
        cpu.sample()  # the workers' last CPU time, before they exit
        stop(bench, *procs)
    else:
        t_sales = drive(
            bench, server.url, make_sales, lambda: base_sales + n - q("SELECT count(*) FROM sales"), rate
        )
    cpu.phase("sales")
    open_sql = "SELECT count(*) FROM work_orders WHERE state IN ('pending', 'booked')"
    t_close = drive(
        bench,
        server.url,
        lambda left: close_file(bench, open_orders(bench, db, left)),
        lambda: q(open_sql),
        rate,
    )
    cpu.phase("closings")
    workers = bench.args.month_workers
    cron, *job_workers = track_jobs(cpu, start_worker(bench, env, workers))
    t0 = time.perf_counter()
    done_sql = f"SELECT count(*) FROM callbacks WHERE verdict IS NOT NULL AND id > {base_callbacks}"
    last, last_change = -1, time.perf_counter()
    progress: list[tuple[float, int]] = []  # (seconds, verdicts): is the rate flat as tables grow?
    with bench.mem.watching():
        while True:
            done = q(done_sql)
            progress.append((time.perf_counter() - t0, done))
            if done >= n:
                break
            if done != last:
                last, last_change = done, time.perf_counter()
            if time.perf_counter() - last_change > 60:
                bench.notes.append(f"month: stalled at {done} of {n} verdicts ({job_workers[0].log})")
                with psycopg.connect(bench.conninfo(db)) as conn:  # where the rest stand
                    waiting = conn.execute(
                        "SELECT c.state, c.automated_attempts, a.channel, a.status, count(*) FROM callbacks c "
                        "LEFT JOIN contact_attempts a ON a.callback_id = c.id AND a.seq = "
                        "(SELECT max(seq) FROM contact_attempts WHERE callback_id = c.id) "
                        f"WHERE c.verdict IS NULL AND c.id > {base_callbacks} GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC"
                    ).fetchall()
                bench.notes.append(
                    "month: callbacks without a verdict (state, automated attempts, last attempt's channel "
                    f"and status: count): {waiting}"
                )
                break
            time.sleep(1)
    t_verdicts = time.perf_counter() - t0
    cpu.phase("callbacks")
    cpu.stop()
    verdicts: dict[str, int] = dict(
        psycopg.connect(bench.conninfo(db))
        .execute(f"SELECT verdict, count(*) FROM callbacks WHERE id > {base_callbacks} GROUP BY verdict")
        .fetchall()
    )
    for proc in (cron, *job_workers, server):
        proc.stop()
        bench.servers.remove(proc)
    total = t_sales + t_close + t_verdicts
    sales_what = (
        f"sales in (API async, 16 connections; registered by {workers} worker{'s' * (workers > 1)})"
        if intake == "async"
        else "sales in (API, 16 connections)"
    )
    bench.add("month", orders=n, what=sales_what, seconds=t_sales, **{"per s": n / t_sales})
    bench.add(
        "month", orders=n, what="closings in (API, 16 connections)", seconds=t_close, **{"per s": n / t_close}
    )
    bench.add(
        "month",
        orders=done,
        what=f"callbacks to verdict ({workers} worker{'s' * (workers > 1)} + rq cron, simulator)",
        seconds=t_verdicts,
        **{"per s": done / t_verdicts},
    )
    bench.add("month", orders=n, what="sale to verdict, wall", seconds=total, **{"per s": n / total})
    cpu_rows(bench, cpu, {"sales": n, "closings": n, "callbacks": done})
    if workers == 1:  # the jobs table compares one worker with one worker's no-op jobs
        bench.add(
            "jobs",
            what="verification callbacks to verdict (one worker)",
            jobs=done,
            seconds=t_verdicts,
            **{"jobs/s": done / t_verdicts},
        )
        noop = next((r.cells["jobs/s"] for r in bench.rows if r.cells.get("what") == "no-op jobs"), None)
        if isinstance(noop, float) and noop:
            bench.rows[-1].cells["of no-op"] = f"{100 * (done / t_verdicts) / noop:.0f}%"
    bench.notes.append(f"month verdicts: {verdicts}")
    if done >= n >= 5000:  # every verdict in, and enough of them for fifths to mean something
        bench.notes.append(
            f"month: callbacks to verdict per second, by fifth of the run: {by_fifth(progress, n)}"
        )
    if n < 300_000:
        bench.notes.append(
            f"month: {n:,} orders measured; 300,000 at this rate would take about {300_000 / (n / total) / 3600:.1f} h "
            "(linear extrapolation: per-order cost does not grow with the tables, see growth)"
        )
