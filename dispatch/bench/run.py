"""`scripts/bench`: Dispatch measured against ceilings served by the same set-up, in one run.

Everything runs on this machine at once (load generator, gunicorn, PostgreSQL, Redis, workers), so
absolute figures depend on the machine; the ratios to the ceilings are what carries over.
Uses databases of its own on the given PostgreSQL server and a queue prefix of its own on Redis,
and removes both at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from dispatch.bench import cpu as cpu_use
from dispatch.bench import load, memory

BIN = Path(sys.executable).parent
POST_JSON = {"Content-Type": "application/json"}
WORKER_CLASS = os.environ.get("DISPATCH_BENCH_WORKER_CLASS", "dispatch.jobs.worker.DispatchWorker")


# --- small process helpers (the bench must not import the tests package) -----------------------


@dataclass
class Server:
    """A process in its own session; `stop()` ends its whole group."""

    name: str
    popen: subprocess.Popen
    log: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.popen.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.popen.wait(5)


def spawn(name: str, argv: list[str], env: dict[str, str], cwd: str) -> Server:
    """Start a process logging to a temporary file."""
    log = Path(tempfile.mkstemp(prefix=f"dispatch-bench-{name}-", suffix=".log")[1])
    with log.open("wb") as fh:
        popen = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(name, popen, log)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, server: Server, timeout: float = 60) -> None:
    """Wait until GET url answers 200, or fail with the server's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.popen.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not come up:\n{server.log.read_text(errors='replace')[-3000:]}")


def gunicorn(name: str, app: str, env: dict[str, str], cwd: str, health: str, port: int = 0) -> Server:
    """Serve `app` with Dispatch's gunicorn settings (dispatch/platform/gunicorn_conf.py) on a free port."""
    port = port or free_port()
    env = {**env, "DISPATCH_BIND": f"127.0.0.1:{port}"}
    server = spawn(name, [str(BIN / "gunicorn"), "-c", "python:dispatch.platform.gunicorn_conf", app], env, cwd)
    server.url = f"http://127.0.0.1:{port}"
    wait_http(server.url + health, server)
    return server


# --- the run's context -------------------------------------------------------------------------


@dataclass
class Row:
    """One line of a table."""

    table: str
    cells: dict[str, Any]


@dataclass
class Bench:
    args: argparse.Namespace
    client: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    servers: list[Server] = field(default_factory=list)
    cwd: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="dispatch-bench-"))
    counter: int = 0
    tokens: dict[str, str] = field(default_factory=dict)
    ceiling: dict[int, float] = field(default_factory=dict)
    insert_peak: float = 0.0
    mem: memory.PeakRss = field(default_factory=memory.PeakRss)
    phase_seconds: dict[str, float] = field(default_factory=dict)

    # databases
    @property
    def pg(self) -> str:
        return self.args.pg.rstrip("/")

    def conninfo(self, db: str) -> str:
        return self.pg.replace("postgresql+psycopg://", "postgresql://") + "/" + db

    def create_db(self, suffix: str) -> str:
        name = f"dispatch_bench_{self.run_id}_{suffix}"
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return name

    def url(self, db: str) -> str:
        return f"{self.pg}/{db}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DISPATCH_CONFIG"}
        env.update(extra)
        return env

    def add(self, table: str, **cells: Any) -> None:
        self.rows.append(Row(table, cells))
        if self.args.verbose:
            print(f"  [{table}] " + ", ".join(f"{k}={fmt(v)}" for k, v in cells.items()), flush=True)

    def next_n(self, count: int) -> range:
        start = self.counter
        self.counter += count
        return range(start, start + count)

    def cleanup(self) -> None:
        for server in self.servers:
            server.stop()
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            for name in self.databases:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        try:
            from redis import Redis

            r = Redis.from_url(self.args.redis)
            for key in r.scan_iter(f"*bench-{self.run_id}*"):
                r.delete(key)
        except Exception as exc:  # noqa: BLE001 - cleanup is best effort
            print(f"could not clean Redis: {exc}", file=sys.stderr)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# --- request builders --------------------------------------------------------------------------


def phone_for(n: int) -> str:
    """A valid, distinct US number for sale number n (area code 217; bulk customers use 312)."""
    return f"+1217{200 + (n // 10000) % 800}{n % 10000:04d}"


def sale_body(
    n: int, appointment: dict | None = None, city: str = "Springfield", model: str = "EW-50"
) -> dict:
    """A sale with one item needing delivery and installation, for a new customer."""
    body: dict[str, Any] = {
        "shop": "Main St Appliances",
        "salesperson": "Jo Counter",
        "sold_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "customer": {
            "name": f"Bench Customer {n}",
            "phone": phone_for(n),
            "address": f"{1 + n % 9999} Elm St",
            "city": city,
        },
        "items": [{"model": model, "delivery": True, "installation": True}],
    }
    if appointment:
        body["appointment"] = appointment
    return body


def sales_file(
    bench: Bench,
    count: int,
    *,
    key: bool,
    token: str,
    appointment: dict | None = None,
    respond_async: bool = False,
) -> Path:
    headers = {**POST_JSON, "Authorization": f"Bearer {token}"}
    if respond_async:
        headers["Prefer"] = "respond-async"
    lines = []
    for n in bench.next_n(count):
        h = dict(headers)
        if key:
            h["Idempotency-Key"] = f"bench-{bench.run_id}-{n}"
        lines.append(
            ("POST", "/api/v1/sales", h, json.dumps(sale_body(n, appointment), separators=(",", ":")))
        )
    return load.write_requests(lines)


# --- phases ------------------------------------------------------------------------------------


def budget(bench: Bench, rate_guess: float) -> int:
    """How many distinct requests one run may need (runs stop early if they run out)."""
    return max(50, int(rate_guess * bench.args.seconds * 1.6) + 50)


def warm_up(bench: Bench, url: str, file: Path) -> None:
    """Send a few requests first (discarded): each worker's first requests pay for imports and caches."""
    load.run(bench.client, url, file, min(8, max(bench.args.concurrency)), 1.0)
    file.unlink(missing_ok=True)


def measure(
    bench: Bench,
    table: str,
    label: str,
    url: str,
    file: Path,
    conc: int,
    *,
    expect: str | None = None,
    of_insert: bool = False,
    **extra: Any,
) -> load.Result:
    """One load run as a table row; `expect`: the only status that counts as success (e.g. 202)."""
    with bench.mem.watching():
        result = load.run(bench.client, url, file, conc, bench.args.seconds, extra.pop("delay_ms", 0))
    file.unlink(missing_ok=True)
    if expect:
        # A 2xx other than the expected one is a different workload (e.g. 201: the sale was
        # registered synchronously, so the server ignored Prefer: respond-async).
        result.errors += sum(v for k, v in result.statuses.items() if k.startswith("2") and k != expect)
    cells = {
        "what": label,
        "conc": conc,
        "req/s": result.rps,
        "p50 ms": result.p50_ms,
        "p99 ms": result.p99_ms,
        "requests": result.requests,
        "errors": result.errors,
    }
    if of_insert:
        cells["of INSERT"] = ratio(bench, result.rps, conc)
    cells.update(extra)
    bench.add(table, **cells)
    if result.errors:
        bench.notes.append(f"{label} at {conc}: {result.errors} errors, statuses {result.statuses}")
    if result.ran_out:
        bench.rows[-1].cells["req/s"] = f">= {result.rps:,.1f}"
        bench.notes.append(f"{label} at {conc}: ran out of prepared requests; the rate is a lower bound")
    return result


def peak_rate(bench: Bench, label: str) -> float:
    """The best req/s measured for `label` so far (0 if none)."""
    return max(
        (
            r.cells["req/s"]
            for r in bench.rows
            if r.cells.get("what") == label and isinstance(r.cells.get("req/s"), float)
        ),
        default=0.0,
    )


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


def seed(bench: Bench, db: str) -> None:
    from dispatch.audit.trail import make_session_factory
    from dispatch.platform import migrate
    from dispatch.platform.db import make_engine
    from dispatch.reference import demo

    migrate.upgrade(bench.url(db))
    engine = make_engine(bench.url(db))
    with make_session_factory(engine)() as session:
        tokens = demo.seed(session)
        session.commit()
    engine.dispose()
    bench.tokens = tokens
    with psycopg.connect(bench.conninfo(db)) as conn:
        bench.tokens["installer"] = str(
            conn.execute("SELECT id FROM installers WHERE code = 'SH-01'").fetchone()[0]
        )


def open_orders(bench: Bench, db: str, limit: int) -> list[int]:
    with psycopg.connect(bench.conninfo(db)) as conn:
        rows = conn.execute(
            "SELECT w.id FROM work_orders w JOIN providers p ON p.id = w.provider_id "
            "WHERE p.code = 'SPR-HEAT' AND w.state IN ('pending', 'booked') ORDER BY w.id LIMIT %s",
            (limit,),
        ).fetchall()
    return [r[0] for r in rows]


def close_file(bench: Bench, order_ids: list[int]) -> Path:
    headers = {**POST_JSON, "Authorization": "Bearer " + bench.tokens["demo-provider-SPR-HEAT"]}
    visited = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
    body = json.dumps(
        {"outcome": "completed", "installer_id": int(bench.tokens["installer"]), "visited_at": visited},
        separators=(",", ":"),
    )
    return load.write_requests([("POST", f"/api/v1/work-orders/{i}/close", headers, body) for i in order_ids])


def ratio(bench: Bench, rps: float, conc: int) -> str:
    ceiling = bench.ceiling.get(conc)
    return f"{100 * rps / ceiling:.0f}%" if ceiling else "-"


SYNC = "sale intake"
SYNC_KEY = "sale intake + Idempotency-Key"
ASYNC = "sale intake, async (Prefer: respond-async)"
ASYNC_KEY = "sale intake, async + Idempotency-Key"
REGISTRATION = "registration: receipts registered/s by one worker"


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
        **{"target req/s": target},
    )


# --- asynchronous intake -----------------------------------------------------------------------


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


def start_worker(bench: Bench, env: dict[str, str], workers: int = 1) -> list[Server]:
    """`rq cron` and `workers` `rq worker`s (with their schedulers) on the default queue: [cron, *workers]."""
    from dispatch.jobs.runtime import queue_name

    cron = spawn(
        "rq-cron",
        [str(BIN / "rq"), "cron", "--url", bench.args.redis, "dispatch.jobs.cron_config"],
        env,
        bench.cwd,
    )
    argv = [
        str(BIN / "rq"),
        "worker",
        "-w",
        WORKER_CLASS,
        "--with-scheduler",
        "--url",
        bench.args.redis,
        queue_name("default"),
    ]
    started = [spawn("rq-worker", argv, env, bench.cwd) for _ in range(workers)]
    bench.servers += [cron, *started]
    bench.mem.track("job worker (rq worker)", started[0].pid)
    return [cron, *started]


def stop(bench: Bench, *procs: Server) -> None:
    """Stop processes the bench started and forget them."""
    for proc in procs:
        proc.stop()
        bench.servers.remove(proc)


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
        n, rejected, first, last, first_batch = conn.execute(
            "WITH p AS (SELECT * FROM sale_receipts WHERE status <> 'accepted' AND errors->>'bench' IS NULL) "
            "SELECT count(*), count(*) FILTER (WHERE status = 'rejected'), min(processed_at), "
            "max(processed_at), count(*) FILTER (WHERE processed_at = (SELECT min(processed_at) FROM p)) "
            "FROM p"
        ).fetchone()
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


# --- the Twilio gather webhook -----------------------------------------------------------------


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
            return conn.execute(sql).fetchone()[0]

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


def phase_jobs(bench: Bench, db: str, server: Server) -> None:
    """Reminder jobs (a real domain job) and no-op jobs processed by one `rq worker`."""
    n = bench.args.jobs
    # Sales with an appointment within the reminder horizon: each plans a reminder due now.
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
            return conn.execute("SELECT count(*) FROM sales").fetchone()[0]

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
    reminders = run_worker(bench, "default", relayed, "reminder jobs", "dispatch.jobs.tasks.remind_provider")
    with psycopg.connect(bench.conninfo(db)) as conn:
        done = conn.execute(
            "SELECT count(*) FROM audit_events WHERE action = 'provider_reminded'"
        ).fetchone()[0]
    if done != relayed:
        bench.notes.append(f"jobs: {done} reminders recorded for {relayed} jobs")
    from redis import Redis
    from rq import Queue

    from dispatch.jobs.runtime import queue_name

    q = Queue(queue_name("noop"), connection=Redis.from_url(bench.args.redis))
    with q.connection.pipeline() as pipe:
        for _ in range(n):
            q.enqueue("dispatch.bench.jobs.noop", result_ttl=600, pipeline=pipe)
        pipe.execute()
    noop = run_worker(bench, "noop", n, "no-op jobs", "dispatch.bench.jobs.noop")
    bench.rows[-2].cells["of no-op"] = f"{100 * reminders / noop:.0f}%" if noop else "-"
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
    first = min(j.started_at for j in jobs)
    last = max(j.ended_at for j in jobs)
    seconds = (last - first).total_seconds() or 1e-6
    rate = len(jobs) / seconds
    bench.add("jobs", what=label, jobs=len(jobs), failed=failed, seconds=seconds, **{"jobs/s": rate})
    if len(jobs) != expected or failed:
        bench.notes.append(f"{label}: {len(jobs)} finished, {failed} failed, {expected} expected")
    return rate


def worker_settings(bench: Bench) -> dict[str, str]:
    return {
        "DISPATCH_DATABASE_URL": os.environ["DISPATCH_DATABASE_URL"],
        "DISPATCH_REDIS_URL": bench.args.redis,
        "DISPATCH_QUEUE_PREFIX": os.environ["DISPATCH_QUEUE_PREFIX"],
        "DISPATCH_TELEPHONY_BACKEND": "simulator",
        "DISPATCH_SIMULATOR_SIGNING_SECRET": os.environ["DISPATCH_SIMULATOR_SIGNING_SECRET"],
        # One bench client stands for many shops and providers: lift the per-caller limits so
        # they do not answer 429, while their check (a Redis round trip) stays in the path.
        "DISPATCH_RATE_LIMIT_SALES": "100000000/minute",
        "DISPATCH_RATE_LIMIT_CLOSE": "100000000/minute",
    }


# --- growth ------------------------------------------------------------------------------------

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
        have = conn.execute("SELECT count(*) FROM customers WHERE phone LIKE '+1312%%'").fetchone()[0]
        if have >= target:
            return 0, 0.0
        city = conn.execute("SELECT id FROM cities WHERE name = 'Springfield'").fetchone()[0]
        model = conn.execute("SELECT id FROM product_models WHERE code = 'EW-50'").fetchone()[0]
        last = conn.execute("SELECT coalesce(max(id), 0) FROM customers").fetchone()[0]
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
        directory.search(session, region="US", **criterion)
        statement, params = captured[-1]
        raw = session.connection().connection.driver_connection
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


# --- month replay ------------------------------------------------------------------------------

CALLBACKS_WHY = "verification callbacks (issue 3) are not implemented in this tree"


def callbacks_available() -> bool:
    """Whether the callbacks domain is implemented (its contract functions no longer raise)."""
    import inspect

    from dispatch.audit import callbacks

    return "NotImplementedError" not in inspect.getsource(callbacks.plan_for_visit)


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


def drive(
    bench: Bench, url: str, make: Callable[[int], Path], remaining: Callable[[], int], rate: float
) -> float:
    """Send requests until `remaining()` is 0, in rounds (a failed request is sent again); seconds taken."""
    t0 = time.perf_counter()
    for _ in range(20):
        left = remaining()
        if left <= 0:
            break
        file = make(left)
        # The run ends as soon as the work is done, so the time is Dispatch's, not the estimate's.
        result = load.run(bench.client, url, file, 16, left / rate * 2 + 5, until=lambda: remaining() <= 0)
        file.unlink(missing_ok=True)
        if bench.args.verbose:
            print(
                f"  (drive: {left} left, {result.requests} sent in {result.seconds:.1f}s: {result.statuses})"
            )
        if remaining() > 0:
            # Requests still in flight when wrk stopped land now; counting them as left would
            # send them again (closings of closed orders: 409s).
            time.sleep(1)
    return time.perf_counter() - t0


def by_fifth(progress: list[tuple[float, int]], n: int) -> str:
    """Verdicts per second in each fifth of `n` (from (seconds, verdicts so far) samples)."""
    rates = []
    for k in range(5):
        lo, hi = n * k // 5, n * (k + 1) // 5
        start = next(t for t, d in progress if d >= lo)
        end = next(t for t, d in progress if d >= hi)
        rates.append(f"{(hi - lo) / max(end - start, 1e-9):.2f}")
    return " / ".join(rates)


def wait_listening(worker: Server, timeout: float = 30) -> None:
    """Wait until an `rq worker` has started and listens on its queue."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.popen.poll() is None:
        if "Listening on" in worker.log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"rq worker did not start:\n{worker.log.read_text(errors='replace')[-3000:]}")


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
            return conn.execute(sql).fetchone()[0]

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
        lines = []
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
        base_callbacks = conn.execute("SELECT coalesce(max(id), 0) FROM callbacks").fetchone()[0]
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
    verdicts = dict(
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


# --- output ------------------------------------------------------------------------------------


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
}
QUICK: dict[str, Any] = {
    "concurrency": [1, 4],
    "seconds": 2.0,
    "growth": [500, 2000],
    "growth_conc": 4,
    "jobs": 30,
    "month": 20,
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
    p.add_argument("--only", default="ceilings,dispatch,jobs,growth,month")
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
        if args.only & {"dispatch", "jobs", "growth", "month"}:
            db = bench.create_db("main")
            os.environ.update(
                DISPATCH_DATABASE_URL=bench.url(db),
                DISPATCH_REDIS_URL=args.redis,
                DISPATCH_QUEUE_PREFIX=f"bench-{bench.run_id}",
                DISPATCH_TELEPHONY_BACKEND="simulator",
                DISPATCH_SIMULATOR_SIGNING_SECRET=secrets.token_urlsafe(32),  # this run's own
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
            ):
                if name in args.only:
                    timed(bench, phase, bench, db, server)
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


if __name__ == "__main__":
    sys.exit(main())
