"""A tiny run of scripts/bench, so that the benchmark cannot rot between real runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG, REDIS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

GATHER = "Twilio gather webhook (rating key: records answer + verdict)"
ASYNC = "sale intake, async (Prefer: respond-async)"
REGISTRATION = "registration: receipts registered/s by one worker"


def test_bench_quick_run_prints_every_table_with_no_errors(tmp_path: Path):
    out = tmp_path / "bench.json"
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "DISPATCH_BENCH_PG": PG,
        "DISPATCH_BENCH_REDIS": REDIS,
    }
    # Smaller than --quick (one concurrency, one-second runs, one growth size, 300 receipts
    # registered, a ten-order month) so that every phase runs in under a minute.
    args = ["--quick", "--concurrency", "4", "--seconds", "1", "--growth", "300", "--jobs", "20"]
    args += ["--registration-max", "300", "--month-orders", "10", "--json", str(out)]
    args += ["--reports-orders", "2000", "--reports-requests", "5", "--reports-verdicts", "5"]
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "bench"), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        stdout, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        # SIGTERM, not the SIGKILL of subprocess.run's timeout: the bench then still stops its
        # servers and drops its databases.
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=60)
        pytest.fail("scripts/bench took over 300 s:\n" + stdout[-4000:] + stderr[-4000:])
    assert proc.returncode == 0, stdout[-4000:] + stderr[-4000:]
    for table in (
        "## ceilings",
        "## dispatch",
        "## jobs",
        "## growth",
        "## month",
        "## reports",
        "## pages",
        "## memory",
    ):
        assert table in stdout, stdout
    rows = json.loads(out.read_text())["rows"]
    # A run that used up its prepared requests shows its rate as a lower bound (">= 12.3").
    measured = [
        r["cells"]
        for r in rows
        if isinstance(r["cells"].get("req/s"), float) or str(r["cells"].get("req/s")).startswith(">=")
    ]
    kinds = {c["what"] for c in measured}
    assert {"trivial JSON", "single INSERT", "sale intake", "close", ASYNC, REGISTRATION, GATHER} <= kinds
    assert all(c["errors"] == 0 for c in measured), measured
    # Each kind of request went through (a single one-second run on a busy machine may finish none,
    # but then the paced and month runs still show it).
    done: dict[str, int] = {}
    for c in measured:
        done[c["what"]] = done.get(c["what"], 0) + c["requests"]
    assert all(n > 0 for k, n in done.items() if "paced" not in k), done
    # The worker registered (at least) the sample of receipts the intake rows left, none rejected.
    registration = next(c for c in measured if c["what"] == REGISTRATION)
    assert registration["requests"] >= min(300, done[ASYNC]) and registration["errors"] == 0
    lookups = [r["cells"] for r in rows if str(r["cells"].get("what", "")).startswith("lookup by")]
    assert len(lookups) == 3 and all(c["errors"] == 0 for c in lookups)
    month = {r["cells"]["what"]: r["cells"] for r in rows if r["table"] == "month"}
    assert month["sale to verdict, wall"]["orders"] == 10
    verdicts = next(
        c for c in rows if c["cells"].get("what") == "callbacks to verdict (1 worker + rq cron, simulator)"
    )
    assert verdicts["cells"]["orders"] >= 10, month
    # The pages phase signed in through the login form and got every page (Next: its redirect).
    pages = {r["cells"]["what"]: r["cells"] for r in rows if r["table"] == "pages" and "conc" in r["cells"]}
    assert len(pages) == 5 and all(c["errors"] == 0 and c["requests"] > 0 for c in pages.values()), pages
    assert all(c["p95 ms"] > 0 for c in pages.values()), pages
    # Where the month's CPU went: the API served every phase; job workers carried the callbacks.
    cpu = {r["cells"]["phase"]: r["cells"] for r in rows if r["table"].startswith("month: CPU")}
    assert set(cpu) == {"sales", "closings", "callbacks"}, cpu
    assert all(c["api (gunicorn)"] > 0 and c["postgresql"] > 0 for c in cpu.values()), cpu
    assert cpu["callbacks"]["job workers"] > 0, cpu
    # The reports were answered (a 2,000-order load is too thin for a city's day, but the month's
    # nationwide ranking lists every bench provider with data), and both arms of the verdict path ran.
    reports = {r["cells"]["what"]: r["cells"] for r in rows if r["table"] == "reports"}
    assert len(reports) == 3 and all(c["errors"] == 0 for c in reports.values()), reports
    assert reports["nationwide provider ranking, a month"]["rows"] > 0, reports
    verdict_path = {r["cells"]["what"]: r["cells"] for r in rows if r["table"] == "verdict path"}
    assert verdict_path["with the tally"]["verdicts"] == verdict_path["tally switched off"]["verdicts"] == 5
    # The databases it made are gone (other runs may be going on beside this one).
    import psycopg

    run_id = re.search(r"Dispatch benchmark (\w+):", stdout).group(1)
    with psycopg.connect(PG.replace("postgresql+psycopg://", "postgresql://") + "/postgres") as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE %s", (f"dispatch_bench_{run_id}_%",)
        ).fetchone()[0]
    assert left == 0
