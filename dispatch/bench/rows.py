"""One run's state and its table rows: the Bench, load runs measured as rows, and the sales and
closings every phase sends."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.abc import Params

from dispatch.bench import load, memory
from dispatch.bench.procs import POST_JSON, Server


def one_row(conn: psycopg.Connection[Any], sql: str, params: Params | None = None) -> tuple[Any, ...]:
    """The one row a query returns (a count, a max, a row known to exist)."""
    row = conn.execute(sql, params).fetchone()
    if row is None:
        raise RuntimeError(f"no row from {sql!r}")
    return row


def scalar(conn: psycopg.Connection[Any], sql: str, params: Params | None = None) -> Any:
    """The first column of the one row a query returns."""
    return one_row(conn, sql, params)[0]


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
        bench.tokens["installer"] = str(scalar(conn, "SELECT id FROM installers WHERE code = 'SH-01'"))


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


CALLBACKS_WHY = "verification callbacks (issue 3) are not implemented in this tree"


def callbacks_available() -> bool:
    """Whether the callbacks domain is implemented (its contract functions no longer raise)."""
    import inspect

    from dispatch.audit import callbacks

    return "NotImplementedError" not in inspect.getsource(callbacks.plan_for_visit)


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
