"""The outbox: a job handed to Redis and then lost there (Redis restarted empty) is handed over again
and runs once; a job that finished is never handed over again."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dispatch.models import AuditEvent, OutboxMessage, ProviderNotice, utcnow
from dispatch.platform import outbox
from tests.procs import BIN, PrivateRedis, isolated_env, start_cron, start_worker, wait_until


def _rows(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_relay_hands_over_due_rows_once_and_again_only_if_never_completed(session):
    outbox.put(session, "deliver_notice", {"delivery_id": 1, "attempt": 1})
    outbox.put(
        session,
        "deliver_notice",
        {"delivery_id": 2, "attempt": 1},
        available_at=utcnow() + timedelta(hours=1),
    )
    session.commit()
    handed: list[int] = []

    def send(row):
        handed.append(row.id)

    def relay(at):
        n = outbox.relay(session, send, now=at, redeliver_after=600, max_deliveries=3)
        session.commit()
        return n

    now = utcnow()
    assert relay(now) == 1 and handed == [1]  # the later one is not due yet
    assert relay(now + timedelta(seconds=10)) == 0  # handed over, not yet overdue
    assert relay(now + timedelta(seconds=601)) == 1 and handed == [1, 1]  # lost in Redis: again
    outbox.mark_completed(session, 1)
    session.commit()
    assert relay(now + timedelta(hours=2)) == 1 and handed == [1, 1, 2]  # done rows stay done
    for step in (1, 2, 3):  # row 2 never completes: handed over at most max_deliveries times
        relay(now + timedelta(hours=2, seconds=601 * step))
    assert handed.count(2) == 3
    assert [r.deliveries for r in _rows(session)] == [2, 3]


def test_a_failing_queue_leaves_the_row_due_with_the_error(session):
    outbox.put(session, "deliver_notice", {"delivery_id": 1, "attempt": 1})
    session.commit()

    def down(row):
        raise ConnectionError("redis is down")

    assert outbox.relay(session, down) == 0
    session.commit()
    (row,) = _rows(session)
    assert row.dispatched_at is None and row.relay_attempts == 1 and "redis is down" in row.last_error


@pytest.mark.slow
def test_a_job_lost_with_redis_is_handed_over_again_and_runs_once(api, session, database_url, tmp_path: Path):
    redis = PrivateRedis().start()
    env = isolated_env(
        tmp_path,
        "outbox",
        DATABASE_URL=database_url,
        REDIS_URL=redis.url,
        OUTBOX_REDELIVER_SECONDS="3",
        PROVIDER_QUIET_HOURS="",
    )
    procs = []
    try:
        order_id = api.sale()["work_orders"][0]["id"]
        # The relay hands the booking's change (to be told to the provider) to Redis, but no
        # worker runs; then Redis restarts empty.
        relay = subprocess.run(
            [str(BIN / "dispatch"), "outbox", "relay"], env=env, capture_output=True, text=True
        )
        assert relay.stdout.strip() == "relayed 1", relay.stderr
        redis.stop()
        redis.start()
        procs += [start_worker(env), start_cron(env)]

        def told() -> bool:
            session.expire_all()
            return (
                session.scalar(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(AuditEvent.action == "provider_notified", AuditEvent.entity_id == order_id)
                )
                == 1
            )

        wait_until(told, timeout=60, what="the lost job to be handed over again and the provider told")
        # Every row due by now (the customer's confirmation, requested by the booking's job, may be
        # held for quiet hours: its next request is for later).
        wait_until(
            lambda: all(r.completed_at for r in _rows(session) if r.available_at <= utcnow()),
            what="the rows to be completed",
        )
        (row,) = [r for r in _rows(session) if r.job == "booking_changed"]
        assert row.deliveries == 2  # handed over twice (lost once), run once:
        notices = session.scalars(
            select(ProviderNotice).where(ProviderNotice.work_order_id == order_id)
        ).all()
        assert [n.type for n in notices] == ["work_order.routed"]
        assert [d.status for d in notices[0].deliveries] == ["delivered"]
    finally:
        for proc in procs:
            proc.stop()
        redis.stop()
