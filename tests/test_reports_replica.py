"""Reports from a streaming replica: a private PostgreSQL primary and its replica (pg_basebackup -R),
the app writing on the primary and reading rankings and scorecards from the replica while it keeps
up, from the primary when its replay lags beyond REPORTS_MAX_LAG_SECONDS or when it is stopped.
Every answer says where it was read (X-Read-From)."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
import time_machine

from dispatch.app import create_app
from dispatch.audit.trail import make_session_factory
from dispatch.platform import migrate
from dispatch.platform.config import ConfigError, load_settings
from dispatch.platform.db import make_engine
from tests.helpers import Api
from tests.procs import PrivatePostgres, free_port, wait_until
from tests.scorecards_support import ANA, DAY, NOON, SETTINGS, team_answer


def _have_tools() -> bool:
    tools = ("initdb", "pg_ctl", "pg_basebackup")
    return all(shutil.which(t) or list(Path("/usr/lib/postgresql").glob(f"*/bin/{t}")) for t in tools)


pytestmark = pytest.mark.skipif(
    not _have_tools(), reason="PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) are not installed"
)


def _conninfo(cluster: PrivatePostgres) -> str:
    return cluster.url.replace("postgresql+psycopg://", "postgresql://")


def _sql(cluster: PrivatePostgres, query: str):
    with psycopg.connect(_conninfo(cluster), autocommit=True) as conn:
        return conn.execute(query).fetchone()[0]


def _wait_received(primary: PrivatePostgres, replica: PrivatePostgres, column: str) -> None:
    """Until the replica has received (or replayed) everything the primary has written so far."""
    lsn = _sql(primary, "SELECT pg_current_wal_lsn()::text")
    wait_until(
        lambda: _sql(replica, f"SELECT {column}() >= '{lsn}'::pg_lsn"),
        timeout=10,
        what=f"the replica's {column} to reach {lsn}",
    )


@pytest.fixture(scope="module")
def cluster():
    primary = PrivatePostgres().init()
    replica = PrivatePostgres()
    try:
        primary.start()
        migrate.upgrade(primary.url)
        replica.follow(primary).start()
        yield primary, replica
    finally:
        replica.destroy()
        primary.destroy()


def _verdict(api: Api, sessions, phone: str) -> None:
    """A sale, its completed visit and the customer's 'very satisfied', all through the app."""
    order = api.sale(phone=phone)["work_orders"][0]["id"]
    closed = api.close(order, "SPR-HEAT", ANA)
    assert closed.status_code == 200, closed.get_json()
    team_answer(api, sessions, order, happened="done", rating="very_satisfied")


def _springfield(api: Api) -> tuple[str, dict]:
    """Where the team ranking was read from, and SPR-HEAT's Springfield row."""
    response = api.get(f"/api/v1/rankings/teams?day={DAY}&city=Springfield", "supervisor")
    assert response.status_code == 200, response.get_json()
    row = next(r for r in response.get_json()["items"] if r["provider"]["code"] == "SPR-HEAT")
    return response.headers["X-Read-From"], row


def test_reports_read_the_replica_and_fall_back_to_the_primary_when_it_lags_or_stops(cluster, settings):
    primary, replica = cluster
    app = create_app(
        {
            **settings,
            **SETTINGS,
            "RANKING_MIN_RATED": 1,
            "DATABASE_URL": primary.url,
            "REPORTS_DATABASE_URL": replica.url,
            "REPORTS_HEALTH_SECONDS": 0,  # every request checks again (the cache is tested below)
        }
    )
    app.config["TESTING"] = True
    reports = app.extensions["dispatch.reports"]
    engine = make_engine(primary.url)
    sessions = make_session_factory(engine)
    try:
        api = Api.seeded(app.test_client(), sessions)
        with time_machine.travel(NOON, tick=True):
            _verdict(api, sessions, "+1 217 555 0401")
            _wait_received(primary, replica, "pg_last_wal_replay_lsn")
            where, row = _springfield(api)
            assert where == "replica"
            assert (row["n"], row["very_satisfied"], row["rank"]) == (1, 1, 1)
            card = api.get(f"/api/v1/scorecards/providers/SPR-HEAT?day={DAY}", "supervisor")
            assert card.headers["X-Read-From"] == "replica"
            assert card.get_json()["total"]["very_satisfied"] == 1

            # Replay paused: the replica receives the second verdict but does not apply it.
            _sql(replica, "SELECT pg_wal_replay_pause()")
            _verdict(api, sessions, "+1 217 555 0402")
            _wait_received(primary, replica, "pg_last_wal_receive_lsn")
            # Within a generous bound the replica still answers, one verdict behind: the proof
            # that the figures come from it.
            reports.max_lag_seconds = 3600
            assert _springfield(api) == ("replica", row)
            # Beyond the bound, the primary answers, with both verdicts.
            reports.max_lag_seconds = 0.001
            where, row = _springfield(api)
            assert (where, row["n"], row["very_satisfied"]) == ("primary", 2, 2)

            # Replay resumed: the replica answers again, caught up.
            _sql(replica, "SELECT pg_wal_replay_resume()")
            reports.max_lag_seconds = 30
            _wait_received(primary, replica, "pg_last_wal_replay_lsn")
            where, row = _springfield(api)
            assert (where, row["n"]) == ("replica", 2)

            # The replica stops while its last check (cached for an hour now) says it is fine:
            # the report's own connection finds it gone, and the primary answers.
            reports.health_seconds = 3600
            assert reports.health().usable
            replica.stop()
            where, row = _springfield(api)
            assert (where, row["n"], row["very_satisfied"]) == ("primary", 2, 2)
            statement = api.get("/api/v1/ledger/statements/installers/SH-01/2031-03", "supervisor")
            assert statement.status_code == 200 and statement.headers["X-Read-From"] == "primary"
            assert not reports.health().usable
    finally:
        reports.dispose()
        app.extensions["dispatch.engine"].dispose()
        engine.dispose()


def test_without_a_replica_reports_say_they_read_the_primary(api):
    response = api.get(f"/api/v1/rankings/providers?day={DAY}", "supervisor")
    assert response.status_code == 200 and response.headers["X-Read-From"] == "primary"
    # Answers that are no report say nothing of it.
    assert "X-Read-From" not in api.get("/api/v1/work-orders", "supervisor").headers


def test_a_replica_that_does_not_answer_sends_reports_to_the_primary(settings, api):
    # Nothing listens on the port: the check fails fast, and the report is still answered.
    app = create_app(
        {**settings, "REPORTS_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x"}
    )
    try:
        response = app.test_client().get(
            f"/api/v1/rankings/providers?day={DAY}", headers=api.headers("supervisor")
        )
        assert response.status_code == 200 and response.headers["X-Read-From"] == "primary"
        assert app.extensions["dispatch.reports"].health().reason.startswith("down")
    finally:
        app.extensions["dispatch.reports"].dispose()
        app.extensions["dispatch.engine"].dispose()


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "REPORTS_DATABASE_URL",
            "sqlite:///reports.sqlite3",
            "REPORTS_DATABASE_URL must be a PostgreSQL URL",
        ),
        ("REPORTS_MAX_LAG_SECONDS", -1, "REPORTS_MAX_LAG_SECONDS may not be negative"),
    ],
)
def test_reports_settings_that_cannot_work_are_refused_by_name(setting, value, message):
    with pytest.raises(ConfigError, match=message):
        load_settings({setting: value, "SIMULATOR_SIGNING_SECRET": "s" * 40})
