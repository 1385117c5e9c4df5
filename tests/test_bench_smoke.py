"""A tiny run of scripts/bench, so that the benchmark cannot rot between real runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG, REDIS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quick_run_prints_every_table_with_no_errors(tmp_path: Path):
    out = tmp_path / "bench.json"
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "DISPATCH_BENCH_PG": PG,
        "DISPATCH_BENCH_REDIS": REDIS,
    }
    run = subprocess.run(
        [str(ROOT / "scripts" / "bench"), "--quick", "--json", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    for table in ("## ceilings", "## dispatch", "## jobs", "## growth", "## memory"):
        assert table in run.stdout, run.stdout
    rows = json.loads(out.read_text())["rows"]
    measured = [r["cells"] for r in rows if isinstance(r["cells"].get("req/s"), float)]
    assert {"trivial JSON", "single INSERT", "sale intake", "close"} <= {c["what"] for c in measured}
    assert all(c["errors"] == 0 for c in measured), measured
    # Each kind of request went through (a single one-second run on a busy machine may finish none).
    done: dict[str, int] = {}
    for c in measured:
        done[c["what"]] = done.get(c["what"], 0) + c["requests"]
    assert all(n > 0 for n in done.values()), done
    lookups = [r["cells"] for r in rows if str(r["cells"].get("what", "")).startswith("lookup by")]
    assert len(lookups) == 6 and all(c["errors"] == 0 for c in lookups)
    # The databases it made are gone.
    import psycopg

    with psycopg.connect(PG.replace("postgresql+psycopg://", "postgresql://") + "/postgres") as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'dispatch_bench_%%'"
        ).fetchone()[0]
    assert left == 0
