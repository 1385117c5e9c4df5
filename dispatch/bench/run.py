"""`scripts/bench`: Dispatch measured against ceilings served by the same set-up, in one run.

Everything runs on this machine at once (load generator, gunicorn, PostgreSQL, Redis, workers), so
absolute figures depend on the machine; the ratios to the ceilings are what carries over.
Uses databases of its own on the given PostgreSQL server and a queue prefix of its own on Redis,
and removes both at the end.

The parts: procs.py (processes), rows.py (the run's state, rows, requests), one module per phase
(intake.py, webhooks.py, workers.py, growth.py, month.py, care.py, pages.py), and this module (arguments, the order
of phases, the tables printed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dispatch.bench import load
from dispatch.bench.care import phase_care
from dispatch.bench.growth import phase_growth
from dispatch.bench.intake import phase_ceilings, phase_dispatch
from dispatch.bench.month import phase_month
from dispatch.bench.pages import phase_pages
from dispatch.bench.procs import free_port, gunicorn, worker_settings
from dispatch.bench.reports import phase_reports
from dispatch.bench.rows import Bench, fmt, seed
from dispatch.bench.workers import phase_jobs


def machine() -> str:
    mem_kb = next(
        int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")
    )
    cpu = next(
        (
            x.split(":", 1)[1].strip()
            for x in Path("/proc/cpuinfo").read_text().splitlines()
            if x.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB RAM, {platform.platform()}"


def print_tables(bench: Bench) -> None:
    order: list[str] = []
    for row in bench.rows:
        if row.table not in order:
            order.append(row.table)
    for table in order:
        rows = [r.cells for r in bench.rows if r.table == table]
        cols: list[str] = []
        for r in rows:
            cols += [c for c in r if c not in cols]
        widths = {c: max(len(c), *(len(fmt(r.get(c, ""))) for r in rows)) for c in cols}
        print(f"\n## {table}\n")
        print("| " + " | ".join(c.ljust(widths[c]) for c in cols) + " |")
        print("|" + "|".join("-" * (widths[c] + 2) for c in cols) + "|")
        for r in rows:
            print("| " + " | ".join(fmt(r.get(c, "")).ljust(widths[c]) for c in cols) + " |")
    if bench.notes:
        print("\nNotes:")
        for note in bench.notes:
            print(f"- {note}")


FULL: dict[str, Any] = {
    "concurrency": [1, 4, 16, 32],
    "seconds": 10.0,
    "growth": [10_000, 1_000_000],
    "growth_conc": 16,
    "jobs": 2000,
    "month": 2000,
    "reports_orders": 1_000_000,
    "reports_requests": 100,
    "reports_verdicts": 500,
    "care_units": 1_000_000,
    "pages_orders": 1_000_000,
    "pages_agents": 150,
}


QUICK: dict[str, Any] = {
    "concurrency": [1, 4],
    "seconds": 2.0,
    "growth": [500, 2000],
    "growth_conc": 4,
    "jobs": 30,
    "month": 20,
    "reports_orders": 2000,
    "reports_requests": 10,
    "reports_verdicts": 10,
    "care_units": 2000,
    "pages_orders": 3000,
    "pages_agents": 5,  # of the 6 callbacks waiting for a person among 3,000 orders
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    p = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    p.add_argument(
        "--pg", default=os.environ.get("DISPATCH_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
    )
    p.add_argument("--redis", default=os.environ.get("DISPATCH_BENCH_REDIS", "redis://127.0.0.1:6379/0"))
    p.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    # Sizes default to FULL, or QUICK with --quick; a size given explicitly wins over either.
    p.add_argument("--concurrency", type=ints, help="connections per load run (default 1,4,16,32)")
    p.add_argument("--seconds", type=float, help="length of each load run (default 10)")
    p.add_argument("--growth", type=ints, help="customers stored (default 10000,1000000)")
    p.add_argument("--growth-conc", type=int, help="connections for the growth intake runs (default 16)")
    p.add_argument("--jobs", type=int, help="jobs per kind in the jobs phase (default 2000)")
    p.add_argument(
        "--month-orders", "--month", dest="month", type=int, help="orders in the month replay (default 2000)"
    )
    p.add_argument(
        "--month-workers",
        type=int,
        default=1,
        help="rq workers carrying the month replay's callbacks (default 1; the jobs table's per-worker "
        "rate comes from it only with 1)",
    )
    p.add_argument(
        "--month-intake",
        choices=("sync", "async"),
        default="async",
        help="how the month replay's sales go in: with Prefer: respond-async (registered by the "
        "replay's worker as they arrive; the default: faster on 2 cores), or synchronously",
    )
    p.add_argument(
        "--registration-max",
        type=int,
        default=5000,
        help="receipts the registration row measures (the async intake rows may leave many more)",
    )
    p.add_argument(
        "--reports-orders",
        type=int,
        help="work orders (with verdicts) loaded for the reports phase (default 1000000)",
    )
    p.add_argument("--reports-requests", type=int, help="requests per report measured (default 100)")
    p.add_argument(
        "--reports-verdicts",
        type=int,
        help="verdicts answered with and again without the tally (default 500 each)",
    )
    p.add_argument(
        "--care-units",
        type=int,
        help="units bulk-loaded for the care phase's preview and scan (default 1000000)",
    )
    p.add_argument(
        "--pages-orders", type=int, help="work orders stored for the pages phase (default 1000000)"
    )
    p.add_argument(
        "--pages-agents", type=int, help="callback agents pressing Next in the pages phase (default 150)"
    )
    p.add_argument("--only", default="ceilings,dispatch,jobs,growth,month,reports,care,pages")
    p.add_argument("--quick", action="store_true", help="tiny sizes (the smoke test)")
    p.add_argument("--json", type=Path, help="also write the rows as JSON here")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.only = set(args.only.split(","))
    return args


def timed(bench: Bench, phase: Callable[..., None], *args: Any) -> None:
    """Run one phase and keep its duration (printed with the total time)."""
    t0 = time.perf_counter()
    phase(*args)
    bench.phase_seconds[phase.__name__.removeprefix("phase_")] = time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Killed (SIGTERM): still stop the servers and drop the databases (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    client = args.client if args.client != "auto" else ("wrk" if load.have_wrk() else "python")
    bench = Bench(args, client)
    print(f"Dispatch benchmark {bench.run_id}: {machine()}")
    print(
        f"load generator: {client}; gunicorn: {os.environ.get('DISPATCH_WEB_WORKERS', 'default')} workers, "
        f"{os.environ.get('DISPATCH_WEB_THREADS', '1')} threads; {args.seconds:g}s per run",
        flush=True,
    )
    started = time.perf_counter()
    try:
        if "ceilings" in args.only:
            timed(bench, phase_ceilings, bench)
        if args.only & {"dispatch", "jobs", "growth", "month", "pages"}:
            db = bench.create_db("main")
            os.environ.update(
                DISPATCH_DATABASE_URL=bench.url(db),
                DISPATCH_REDIS_URL=args.redis,
                DISPATCH_QUEUE_PREFIX=f"bench-{bench.run_id}",
                DISPATCH_TELEPHONY_BACKEND="simulator",
                DISPATCH_SIMULATOR_SIGNING_SECRET=secrets.token_urlsafe(32),  # this run's own
                DISPATCH_SECRET_KEY=secrets.token_urlsafe(32),
            )
            seed(bench, db)
            port = free_port()
            server = gunicorn(
                "dispatch",
                "dispatch.wsgi:app",
                bench.env(**worker_settings(bench)),
                bench.cwd,
                "/api/v1/health",
                port,
            )
            bench.servers.append(server)
            bench.mem.track("api worker (Dispatch)", server.pid, children_only=True)
            for name, phase in (
                ("dispatch", phase_dispatch),
                ("jobs", phase_jobs),
                ("growth", phase_growth),
                ("month", phase_month),
                ("pages", phase_pages),
            ):
                if name in args.only:
                    timed(bench, phase, bench, db, server)
        if "reports" in args.only:
            timed(bench, phase_reports, bench)
        if "care" in args.only:
            timed(bench, phase_care, bench, args.care_units)
        for role, peak in bench.mem.peaks().items():
            bench.add("memory", process=role, **{"peak RSS MiB": peak / 1024})
    finally:
        bench.cleanup()
    print_tables(bench)
    phases = ", ".join(f"{k} {v:.0f}s" for k, v in bench.phase_seconds.items())
    print(f"\nTotal time {time.perf_counter() - started:.0f}s ({phases})")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "client": client,
                    "rows": [asdict(r) for r in bench.rows],
                    "notes": bench.notes,
                },
                indent=1,
                default=str,
            )
        )
    errors = sum(int(r.cells.get("errors", 0) or 0) for r in bench.rows)
    return 1 if errors else 0
