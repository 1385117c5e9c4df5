"""Fuzz the served API from its own OpenAPI document with schemathesis (all checks, fixed seed).

A real gunicorn serves a seeded database; schemathesis generates valid and invalid requests for
every operation, as a headquarters admin and as a provider. Any server error, any response that
breaks its documented schema, status code, content type or headers fails the test; 4xx answers to
bad input are expected.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dispatch.reference import demo
from tests import procs
from tests.helpers import Api

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
SEED = "20260501"
# A well-formed request may still name something that does not exist or does not fit (an unknown
# city, a closed order, two search fields at once): 404, 409 and 422 are right answers to it.
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
"""
EXAMPLES = "10"  # per operation and phase: keeps each run around a minute on a small machine


@pytest.fixture
def served(worker_env, session_factory, client):
    """A seeded database with some orders of each kind, served by gunicorn."""
    with session_factory() as session:
        tokens = demo.seed(session)
        session.commit()
    api = Api(client, tokens)
    for n in range(3):
        sale = api.sale(phone=f"+1 217 555 01{n:02d}", name=f"Fuzz Customer {n}")
        api.close(sale["work_orders"][0]["id"], "SPR-HEAT", 1)
    api.sale(city="Riverton", phone="+1 303 555 0150")
    api.sale(city="Bayview", model="GW-40", phone="+1 303 555 0151")
    env = dict(worker_env)
    # The fuzzer sends hundreds of sales and closings from one caller.
    env["DISPATCH_RATE_LIMIT_SALES"] = env["DISPATCH_RATE_LIMIT_CLOSE"] = ""
    server = procs.start_gunicorn(env, workers=2)
    yield server, tokens
    server.stop()


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("who", ["demo-admin", "demo-provider-SPR-HEAT"])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(served, who, tmp_path):
    server, tokens = served
    url = server.extra["url"]
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    argv = [
        SCHEMATHESIS,
        "--config-file",
        str(config),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--seed",
        SEED,
        "--max-examples",
        EXAMPLES,
        "--header",
        f"Authorization: Bearer {tokens[who]}",
        "--request-timeout",
        "10",
        "--no-color",
        "--report-dir",
        str(tmp_path),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=540)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:] + "\n--- server log ---\n" + server.output()[-5000:]
    assert "Traceback" not in server.output()
