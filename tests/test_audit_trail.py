"""The audit trail is tamper-evident and, on PostgreSQL, append-only for the application.

- The application role (DATABASE_APP_ROLE) may SELECT and INSERT audit events, never UPDATE,
  DELETE or TRUNCATE them, even with session_replication_role = replica.
- The triggers refuse UPDATE/DELETE/TRUNCATE to everyone, the owner included, also as a replica.
- An owner who switches the triggers off and edits or deletes an event is caught by
  `dispatch audit verify`, which exits non-zero naming the first broken event.
- Writers appending at the same time produce one unbroken chain.
"""

from __future__ import annotations

import subprocess
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import errors
from redis import Redis
from rq import Queue
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from dispatch import cli
from dispatch.app import create_app
from dispatch.audit import trail
from dispatch.audit.trail import make_session_factory
from dispatch.models import AuditEvent
from dispatch.platform.actors import Actor
from dispatch.platform.config import DEFAULTS
from dispatch.platform.db import make_engine
from tests.conftest import REDIS, SIGNING_SECRET
from tests.helpers import Api
from tests.procs import isolated_env, start_worker, wait_until

APP_ROLE = DEFAULTS["DATABASE_APP_ROLE"]
DISPATCH = str(Path(__import__("sys").executable).parent / "dispatch")


def _conninfo(database_url: str, user: str | None = None) -> str:
    url = make_url(database_url)
    return f"host={url.host} port={url.port or 5432} dbname={url.database} user={user or url.username}"


def _events(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(AuditEvent))


@pytest.fixture
def some_events(session_factory) -> int:
    """Ten audit events written the way the app writes them."""
    with session_factory() as session:
        for i in range(10):
            trail.record(session, Actor.system("test"), "thing", i + 1, "made", data={"n": i})
        session.commit()
    return 10


@pytest.fixture
def app_login(database_url) -> str:
    """A login role that is a member of the application role, as production would create it."""
    name = f"dispatch_app_login_{uuid.uuid4().hex[:8]}"
    admin = _conninfo(database_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN IN ROLE {APP_ROLE}")
    yield name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {name}")


def _refused(conn: psycopg.Connection, sql: str) -> str:
    """Run `sql` in a savepoint; it must fail with insufficient_privilege. Returns the message."""
    with pytest.raises(errors.InsufficientPrivilege) as caught:
        with conn.transaction():
            conn.execute(sql)
    return str(caught.value)


def test_the_app_runs_as_the_application_role_and_can_append_events(database_url, app_login, engine):
    """A whole sale through the API with the app connected as the restricted role: it works."""
    url = make_url(database_url).set(username=app_login).render_as_string(hide_password=False)
    app = create_app(
        {
            "DATABASE_URL": url,
            "RATE_LIMIT_SALES": "",
            "RATE_LIMIT_CLOSE": "",
            "SIMULATOR_SIGNING_SECRET": SIGNING_SECRET,
        }
    )
    try:
        api = Api.seeded(app.test_client(), app.extensions["dispatch.sessions"])
        before = _events(engine)
        sale = api.sale()
        order = sale["work_orders"][0]
        installers = api.get("/api/v1/installers", "provider:SPR-HEAT").get_json()
        closed = api.close(order["id"], "SPR-HEAT", installers[0]["id"])
        assert closed.status_code == 200, closed.get_json()
        assert _events(engine) > before
        with app.extensions["dispatch.sessions"]() as session:
            assert session.scalar(text("SELECT current_user")) == app_login
            assert trail.verify_chain(session).ok
    finally:
        app.extensions["dispatch.engine"].dispose()


def test_application_role_cannot_update_delete_or_truncate_events(database_url, app_login, some_events):
    with psycopg.connect(_conninfo(database_url, app_login), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM audit_events").fetchone()[0] == some_events
        for sql in (
            "UPDATE audit_events SET action = 'forged' WHERE seq = 3",
            "DELETE FROM audit_events WHERE seq = 3",
            "TRUNCATE audit_events",
            "ALTER TABLE audit_events DISABLE TRIGGER USER",
        ):
            message = _refused(conn, sql)
            assert "permission denied" in message or "must be owner" in message, message
        # It cannot switch itself to replication mode (that needs a superuser) ...
        _refused(conn, "SET session_replication_role = replica")
    # ... and even when a superuser sets replication mode before handing the session over, the
    # grants still refuse every change.
    with psycopg.connect(_conninfo(database_url), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(f"SET ROLE {APP_ROLE}")
        for sql in (
            "UPDATE audit_events SET action = 'forged' WHERE seq = 3",
            "DELETE FROM audit_events WHERE seq = 3",
            "TRUNCATE audit_events",
        ):
            assert "permission denied" in _refused(conn, sql)
        conn.execute("RESET ROLE")
    with psycopg.connect(_conninfo(database_url), autocommit=True) as conn:
        rows = conn.execute("SELECT count(*), count(*) FILTER (WHERE action = 'forged') FROM audit_events")
        assert rows.fetchone() == (some_events, 0)


def test_triggers_refuse_even_the_owner_also_as_a_replica(database_url, some_events, session_factory):
    with psycopg.connect(_conninfo(database_url), autocommit=True) as conn:
        for replica in (False, True):
            conn.execute(f"SET session_replication_role = {'replica' if replica else 'origin'}")
            assert "UPDATE of event 3" in _refused(conn, "UPDATE audit_events SET action = 'x' WHERE seq = 3")
            assert "DELETE of event 3" in _refused(conn, "DELETE FROM audit_events WHERE seq = 3")
            assert "TRUNCATE" in _refused(conn, "TRUNCATE audit_events")
            # A cascade from the users table reaches audit_events and is refused as well.
            _refused(conn, "TRUNCATE users CASCADE")
        triggers = conn.execute(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass "
            "AND NOT tgisinternal ORDER BY tgname"
        ).fetchall()
        assert triggers == [("audit_events_no_truncate", "A"), ("audit_events_no_update_delete", "A")]
    with session_factory() as session:
        report = trail.verify_chain(session)
    assert report.ok and report.checked == some_events


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _verify(worker_env, *args: str) -> _Result:
    """`dispatch audit verify` in this process (click's runner), with the test run's settings."""
    env = {k: v for k, v in worker_env.items() if k.startswith("DISPATCH_")}
    result = CliRunner().invoke(cli.main, ["audit", "verify", *args], env=env)
    return _Result(result.exit_code, result.stdout, result.stderr)


def _as_owner_without_triggers(database_url: str, sql: str) -> None:
    with psycopg.connect(_conninfo(database_url)) as conn:  # one transaction
        conn.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete")
        conn.execute(sql)
        conn.execute("ALTER TABLE audit_events ENABLE ALWAYS TRIGGER audit_events_no_update_delete")


def test_verify_command_passes_on_an_intact_trail_and_fails_on_a_broken_one(
    database_url, worker_env, some_events
):
    """The installed console script, as an operator runs it."""
    argv = [DISPATCH, "audit", "verify"]
    result = subprocess.run(argv, env=worker_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"intact: {some_events} events" in result.stdout
    _as_owner_without_triggers(database_url, "UPDATE audit_events SET to_state = 'closed' WHERE seq = 8")
    result = subprocess.run(argv, env=worker_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "audit trail BROKEN at event 8: content does not match its hash" in result.stderr


@pytest.mark.parametrize(
    ("tamper", "broken_seq", "reason"),
    [
        ("UPDATE audit_events SET data = '{\"n\": 99}' WHERE seq = 4", 4, "content does not match"),
        ("UPDATE audit_events SET actor = 'user:1 admin' WHERE seq = 7", 7, "content does not match"),
        ("DELETE FROM audit_events WHERE seq = 6", 6, "missing"),
        # Rewriting an event and its own hash still breaks the link from the next event.
        ("UPDATE audit_events SET action = 'x', hash = repeat('a', 64) WHERE seq = 5", 5, "content"),
        ("UPDATE audit_events SET prev_hash = repeat('0', 64) WHERE seq = 2", 2, "prev_hash"),
    ],
)
def test_owner_tampering_is_named_by_verify(
    database_url, worker_env, some_events, tamper, broken_seq, reason
):
    _as_owner_without_triggers(database_url, tamper)
    result = _verify(worker_env)
    assert result.returncode == 1
    assert f"BROKEN at event {broken_seq}:" in result.stderr
    assert reason in result.stderr


def test_a_cut_off_tail_or_a_rehashed_chain_fails_against_a_recorded_anchor(
    database_url, worker_env, some_events, session_factory
):
    """Cutting the tail leaves a valid shorter chain: the head recorded earlier exposes it."""
    first = _verify(worker_env)
    head = first.stdout.strip().rsplit("head ", 1)[1]
    assert head.startswith(f"{some_events}:") and len(head.split(":")[1]) == 64
    assert _verify(worker_env, "--anchor", head).returncode == 0
    _as_owner_without_triggers(database_url, f"DELETE FROM audit_events WHERE seq > {some_events - 2}")
    assert _verify(worker_env).returncode == 0  # the shorter chain is consistent in itself ...
    cut = _verify(worker_env, "--anchor", head)  # ... but the anchored head is gone
    assert cut.returncode == 1
    assert f"BROKEN at event {some_events}: anchored event is missing" in cut.stderr

    # An owner who rewrites an event and re-hashes everything after it: the anchor still catches it.
    with session_factory() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        events[2].action = "forged"
        prev = trail.GENESIS
        rows = []
        for event in events:
            rows.append((event.seq, prev, trail.event_digest(event, prev)))
            prev = rows[-1][2]
    anchor = f"{some_events - 2}:" + _verify(worker_env).stdout.strip().rsplit(":", 1)[1]
    sql = "; ".join(
        f"UPDATE audit_events SET action = {'$$forged$$' if seq == 3 else 'action'}, "
        f"prev_hash = '{p}', hash = 'x{seq}' WHERE seq = {seq}"
        for seq, p, _h in rows
    )
    fix = "; ".join(f"UPDATE audit_events SET hash = '{h}' WHERE seq = {seq}" for seq, _p, h in rows)
    _as_owner_without_triggers(database_url, sql + "; " + fix)
    assert _verify(worker_env).returncode == 0  # a perfect forgery of the chain ...
    forged = _verify(worker_env, "--anchor", anchor)
    assert forged.returncode == 1 and "anchored event has another hash" in forged.stderr


def test_the_hourly_anchor_job_writes_the_head_to_the_worker_log(
    database_url, worker_env, some_events, tmp_path
):
    """`rq cron` runs log_audit_anchor every hour; a real worker shows its line, with time and level."""
    head = _verify(worker_env).stdout.strip().rsplit("head ", 1)[1]
    env = isolated_env(tmp_path, "anchor", DATABASE_URL=database_url, REDIS_URL=REDIS)
    queue = Queue(f"{env['DISPATCH_QUEUE_PREFIX']}-default", connection=Redis.from_url(REDIS))
    worker = start_worker(env, scheduler=False)
    try:
        job = queue.enqueue("dispatch.jobs.tasks.log_audit_anchor")
        wait_until(
            lambda: job.refresh() or job.get_status() == "finished",
            what=f"the anchor job:\n{worker.output()}",
        )
        assert job.return_value() == head
        wait_until(lambda: f"audit anchor {head}" in worker.output(), timeout=5, what="the anchor in the log")
        line = next(x for x in worker.output().splitlines() if f"audit anchor {head}" in x)
        assert " INFO dispatch.jobs.tasks audit anchor " in line, line
    finally:
        worker.stop()
        queue.delete(delete_jobs=True)
    assert _verify(worker_env, "--anchor", head).returncode == 0


def test_concurrent_writers_build_one_unbroken_chain(engine, session_factory):
    """Eight threads, each with its own connection, append 40 transactions of 1-3 events each."""
    threads, commits = 8, 40
    failures: list[BaseException] = []
    start = threading.Barrier(threads)

    def writer(n: int) -> None:
        factory = make_session_factory(engine)
        try:
            start.wait()
            for i in range(commits):
                with factory() as session:
                    for k in range(1 + i % 3):
                        trail.record(session, Actor.system(f"w{n}"), "thing", n * 1000 + i, f"step{k}")
                    session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(120)
    assert not failures, failures
    expected = threads * sum(1 + i % 3 for i in range(commits))
    with session_factory() as session:
        report = trail.verify_chain(session)
        seqs = session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
    assert report.ok, report
    assert report.checked == expected
    assert seqs == list(range(1, expected + 1))


def test_concurrent_writer_processes_build_one_unbroken_chain(database_url, worker_env, session_factory):
    """Four separate processes append at once through the real session hook."""
    script = (
        "import sys\n"
        "from dispatch.platform.actors import Actor\n"
        "from dispatch.audit import trail\n"
        "from dispatch.audit.trail import make_session_factory\n"
        "from dispatch.platform.db import make_engine\n"
        "f = make_session_factory(make_engine(sys.argv[1]))\n"
        "for i in range(60):\n"
        "    with f() as s:\n"
        "        trail.record(s, Actor.system('p' + sys.argv[2]), 'thing', i + 1, 'made')\n"
        "        trail.record(s, Actor.system('p' + sys.argv[2]), 'thing', i + 1, 'made again')\n"
        "        s.commit()\n"
    )
    python = str(Path(DISPATCH).parent / "python")
    procs = [subprocess.Popen([python, "-c", script, database_url, str(n)], env=worker_env) for n in range(4)]
    assert [p.wait(120) for p in procs] == [0, 0, 0, 0]
    with session_factory() as session:
        report = trail.verify_chain(session)
    assert report.ok and report.checked == 4 * 60 * 2


def test_sqlite_migrates_without_the_postgres_only_parts(tmp_path):
    """Migration 0003 is a no-op on SQLite; the chain still works there."""
    from dispatch.platform import migrate

    url = f"sqlite:///{tmp_path / 'd.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        trail.record(session, Actor.system("t"), "thing", 1, "made")
        session.commit()
        assert trail.verify_chain(session).ok
    engine.dispose()
