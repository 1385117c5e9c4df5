"""The jobs phase: booking jobs (a real domain job: each plans its provider's notices) and no-op
jobs, processed by one `rq worker`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg

from dispatch.bench import load
from dispatch.bench.procs import BIN, WORKER_CLASS, Server, spawn, worker_settings
from dispatch.bench.rows import CALLBACKS_WHY, Bench, callbacks_available, sales_file, scalar


def phase_jobs(bench: Bench, db: str, server: Server) -> None:
    """Booking jobs (a real domain job) and no-op jobs processed by one `rq worker`."""
    n = bench.args.jobs
    # Booked sales: each one's booking job plans the provider's notices (at once, and visit reminders).
    start = (datetime.now(UTC) + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}
    file = sales_file(bench, n, key=False, token=bench.tokens["demo-sales"], appointment=window)
    pace = max(
        20.0,
        0.5
        * max(
            (
                r.cells["req/s"]
                for r in bench.rows
                if r.cells.get("what") == "sale intake" and isinstance(r.cells.get("req/s"), float)
            ),
            default=40.0,
        ),
    )

    def sales() -> int:
        with psycopg.connect(bench.conninfo(db)) as conn:
            return scalar(conn, "SELECT count(*) FROM sales")

    base = sales()
    result = load.run(bench.client, server.url, file, 8, n / pace * 2 + 5, until=lambda: sales() >= base + n)
    file.unlink(missing_ok=True)
    accepted = sales() - base
    if result.errors or accepted < n:
        bench.notes.append(f"jobs: only {accepted} of {n} booked sales accepted ({result.statuses})")
    from dispatch.jobs import tasks

    t0 = time.perf_counter()
    relayed = tasks.relay_outbox()
    relay_s = time.perf_counter() - t0
    bench.add(
        "jobs",
        what="outbox relay (rows handed to RQ)",
        jobs=relayed,
        seconds=relay_s,
        **{"jobs/s": relayed / relay_s},
    )
    booked = run_worker(bench, "default", relayed, "booking jobs", "dispatch.jobs.tasks.booking_changed")
    with psycopg.connect(bench.conninfo(db)) as conn:
        done = scalar(
            conn,
            "SELECT count(DISTINCT work_order_id) FROM provider_notices WHERE type = 'work_order.routed'",
        )
    if done != relayed:
        bench.notes.append(f"jobs: notices planned for {done} orders by {relayed} booking jobs")
    from redis import Redis
    from rq import Queue

    from dispatch.jobs.runtime import queue_name

    q = Queue(queue_name("noop"), connection=Redis.from_url(bench.args.redis))
    with q.connection.pipeline() as pipe:
        for _ in range(n):
            q.enqueue("dispatch.bench.jobs.noop", result_ttl=600, pipeline=pipe)
        pipe.execute()
    noop = run_worker(bench, "noop", n, "no-op jobs", "dispatch.bench.jobs.noop")
    bench.rows[-2].cells["of no-op"] = f"{100 * booked / noop:.0f}%" if noop else "-"
    if not callbacks_available():
        bench.add("jobs", what="verification callbacks", **{"jobs/s": f"not available yet: {CALLBACKS_WHY}"})


def run_worker(bench: Bench, queue: str, expected: int, label: str, func: str) -> float:
    """One `rq worker --burst` on a queue; jobs/s from the first job's start to the last one's end.

    Only `func` jobs count: the default queue's registry also holds the cron jobs (sweeps) that
    the registration row's worker ran, and copies of them may still be queued.
    """
    from redis import Redis
    from rq import Queue
    from rq.registry import FinishedJobRegistry

    from dispatch.jobs.runtime import queue_name

    name = queue_name(queue)
    env = bench.env(**worker_settings(bench))
    with bench.mem.watching():
        worker = spawn(
            "rq-worker",
            [str(BIN / "rq"), "worker", "-w", WORKER_CLASS, "--burst", "--url", bench.args.redis, name],
            env,
            bench.cwd,
        )
        bench.mem.track("job worker (rq worker)", worker.pid)
        worker.popen.wait(timeout=3600)
    conn = Redis.from_url(bench.args.redis)
    q = Queue(name, connection=conn)
    ids = FinishedJobRegistry(queue=q).get_job_ids()
    jobs = [j for j in q.job_class.fetch_many(ids, connection=conn) if j is not None and j.func_name == func]
    failed = len(q.failed_job_registry)
    if not jobs:
        bench.add(
            "jobs", what=label, jobs=0, **{"jobs/s": "worker ran nothing: " + worker.log.read_text()[-300:]}
        )
        return 0.0
    first = min(j.started_at for j in jobs if j.started_at is not None)
    last = max(j.ended_at for j in jobs if j.ended_at is not None)
    seconds = (last - first).total_seconds() or 1e-6
    rate = len(jobs) / seconds
    bench.add("jobs", what=label, jobs=len(jobs), failed=failed, seconds=seconds, **{"jobs/s": rate})
    if len(jobs) != expected or failed:
        bench.notes.append(f"{label}: {len(jobs)} finished, {failed} failed, {expected} expected")
    return rate
