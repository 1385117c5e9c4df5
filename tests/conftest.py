"""Fixtures: a fresh PostgreSQL database per test run (migrated), Redis, the app, and API helpers.

Every test starts from empty tables (TRUNCATE after each test), so tests can commit freely and
worker processes see the same data.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from redis import Redis
from sqlalchemy import text

from dispatch.app import create_app
from dispatch.audit.trail import make_session_factory
from dispatch.platform import migrate
from dispatch.platform.db import make_engine
from tests.helpers import Api

PG = os.environ.get("DISPATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("DISPATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:8]
# The simulated phone network's webhook signing key for this test run (each installation has its own).
SIGNING_SECRET = secrets.token_urlsafe(32)
# The pages' session key for this test run. Also in the environment, so that every app a test
# builds with settings of its own (and every process it starts) has one, as scripts/run gives it.
SECRET_KEY = secrets.token_urlsafe(32)
os.environ.setdefault("DISPATCH_SECRET_KEY", SECRET_KEY)


def _admin_conninfo() -> str:
    return PG.replace("postgresql+psycopg://", "postgresql://") + "/postgres"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A new database for this test run, migrated from empty to head; dropped afterwards."""
    name = f"dispatch_test_{RUN_ID}"
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG}/{name}"
    migrate.upgrade(url)
    yield url
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def settings(database_url) -> dict:
    """Settings shared by the app under test and any worker process a test starts."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS,
        "QUEUE_PREFIX": f"test-{RUN_ID}",
        "TELEPHONY_BACKEND": "simulator",
        "SIMULATOR_SIGNING_SECRET": SIGNING_SECRET,
        "SECRET_KEY": SECRET_KEY,
        # User ids restart in every test, so per-caller counts would carry over between tests;
        # the tests about rate limits set their own limits and key prefix.
        "RATE_LIMIT_SALES": "",
        "RATE_LIMIT_CLOSE": "",
        "RATE_LIMIT_APPOINTMENTS": "",
    }


@pytest.fixture(scope="session")
def worker_env(settings) -> dict[str, str]:
    """Environment for a subprocess (rq worker, gunicorn) to see the same settings."""
    env = dict(os.environ)
    env.pop("DISPATCH_CONFIG", None)
    env.update({f"DISPATCH_{k}": str(v) for k, v in settings.items()})
    return env


@pytest.fixture(autouse=True)
def _clean_tables(engine):
    yield
    with engine.begin() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            )
        ]
        # audit_events and ledger_entries refuse TRUNCATE (migrations 0003, 0008); as their owner,
        # switch the triggers off for this transaction only (ALTER TABLE is transactional), then
        # back on to fire ALWAYS.
        guarded = (
            ("audit_events", "audit_events_no_truncate"),
            ("ledger_entries", "ledger_entries_no_truncate"),
        )
        for table, trigger in guarded:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}"))
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        for table, trigger in guarded:
            conn.execute(text(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}"))


@pytest.fixture
def app(settings, request):
    """The app on the test database; a test module may set APP_SETTINGS to override settings."""
    app = create_app({**settings, **getattr(request.module, "APP_SETTINGS", {})})
    app.config["TESTING"] = True
    yield app
    app.extensions["dispatch.engine"].dispose()


@pytest.fixture
def cfg(app):
    """The app's settings, as the domain functions take them."""
    return app.config


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session_factory(engine):
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory):
    with session_factory() as s:
        yield s


@pytest.fixture
def redis_conn() -> Iterator[Redis]:
    conn = Redis.from_url(REDIS)
    yield conn
    for key in conn.scan_iter(f"*test-{RUN_ID}*"):
        conn.delete(key)


@pytest.fixture
def api(client, session_factory) -> Api:
    """The demo reference data, one user per role with a token, and request helpers."""
    return Api.seeded(client, session_factory)


@pytest.fixture
def standin():
    """A local HTTP server standing in for Twilio's REST API (the real SDK talks to it)."""
    from tests.twilio_standin import TwilioStandIn

    server = TwilioStandIn().start()
    yield server
    server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With pytest-xdist (`scripts/test` runs two processes, `--dist loadgroup`), the tests that
    start processes (marked slow) go to one group: one process runs them one after another, so
    two of them never compete for the machine's cores while the other process takes the rest."""
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.xdist_group("processes"))
