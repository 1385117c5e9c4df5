"""Faults around the callback calls: a worker killed mid-dial, repeated jobs, Redis stopped while
closings keep arriving, forged webhooks. Dials are counted where Twilio would count them: at the
stand-in for Twilio's REST API, per attempt (the attempt id is in the webhook URLs each dial sends).
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from dispatch.models import AttemptStatusEvent, Callback, ContactAttempt, OutboxMessage
from dispatch.reference import demo
from tests.helpers import sale_body
from tests.procs import (
    PrivateRedis,
    children,
    free_port,
    start_cron,
    start_gunicorn,
    start_worker,
    wait_until,
)
from tests.quiet import wait_until_quiet
from tests.test_callbacks_e2e import e2e_env
from tests.twilio_standin import TwilioStandIn

pytestmark = pytest.mark.slow


def attempt_of(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["attempt"][0])


def dials_per_attempt(standin: TwilioStandIn) -> Counter:
    """Calls and texts of verification callbacks per attempt (a provider's notice names no attempt)."""
    dials = [r.form.get("Url") or r.form.get("StatusCallback") for r in standin.requests]
    return Counter(attempt_of(url) for url in dials if url)


def all_done(jobs) -> bool:
    """Whether every one of these RQ jobs has run (finished or failed)."""
    return all(job.get_status(refresh=True) in ("finished", "failed") for job in jobs)


class System:
    """Web, workers, cron against the stand-in; started and stopped by the test."""

    def __init__(self, env: dict, port: int, session_factory) -> None:
        self.env, self.port, self.procs, self.base = env, port, [], f"http://127.0.0.1:{port}"
        with session_factory() as s:
            self.tokens = demo.seed(s) or {}
            s.commit()

    def start(self, workers: int = 1, web: bool = True) -> System:
        if web:
            self.procs.append(start_gunicorn(self.env, port=self.port))
        self.procs += [start_worker(self.env) for _ in range(workers)] + [start_cron(self.env)]
        return self

    def stop(self) -> None:
        for p in self.procs:
            p.stop()

    def queue(self) -> Queue:
        return Queue(
            f"{self.env['DISPATCH_QUEUE_PREFIX']}-default",
            connection=Redis.from_url(self.env["DISPATCH_REDIS_URL"]),
        )

    def close_order(self, phone: str, reason: str = "customer_not_home") -> int:
        auth = {"Authorization": "Bearer " + self.tokens["demo-sales"]}
        sale = requests.post(
            self.base + "/api/v1/sales", json=sale_body(phone=phone), headers=auth, timeout=10
        )
        assert sale.status_code == 201, sale.text
        order_id = sale.json()["work_orders"][0]["id"]
        body = {
            "outcome": "not_completed",
            "reason": reason,
            "installer_id": 1,
            "visited_at": "2020-01-01T10:00:00+00:00",
        }
        auth = {"Authorization": "Bearer " + self.tokens["demo-provider-SPR-HEAT"]}
        closed = requests.post(
            f"{self.base}/api/v1/work-orders/{order_id}/close", json=body, headers=auth, timeout=10
        )
        assert closed.status_code == 200, closed.text
        return order_id


def test_worker_killed_mid_dial_and_repeated_jobs_never_dial_twice(
    worker_env, standin, session_factory, redis_conn
):
    port = free_port()
    env = e2e_env(worker_env, standin, port)
    system = System(env, port, session_factory).start(workers=1)
    try:
        standin.delay = 6.0  # Twilio is slow to answer: the worker is inside calls.create
        system.close_order("+12175550151")
        wait_until(lambda: len(standin.calls()) == 1, timeout=60, what="the first dial")
        worker = next(p for p in system.procs if p.name == "rq-worker")
        # DispatchWorker runs the job in its own process: kill it outright, with any process it
        # started (RQ's scheduler runs in a session of its own), each by its pid.
        for pid in [*children(worker.pid), worker.pid]:
            os.kill(pid, signal.SIGKILL)
        worker.popen.wait(5)
        standin.delay = 0.0

        with session_factory() as s:
            callback = s.scalars(select(Callback)).one()
            [attempt] = s.scalars(select(ContactAttempt)).all()
            assert attempt.status == "started" and attempt.provider_sid is None  # killed before it knew
        # The same job again, several times and on two fresh workers at once (RQ retry, relay resend).
        system.procs += [start_worker(env), start_worker(env)]
        copies = [
            system.queue().enqueue(
                "dispatch.jobs.callbacks.place_callback_attempt", callback_id=callback.id, channel="voice"
            )
            for _ in range(4)
        ]
        wait_until(lambda: all_done(copies), timeout=90, what="the repeated jobs to run")
        with session_factory() as s:  # the request whose job died with the worker
            killed = s.scalars(select(OutboxMessage.id).where(OutboxMessage.job == "place_callback_attempt"))
            wait_until_quiet(env, abandoned=set(killed))
        assert len(standin.calls()) == 1
        assert dials_per_attempt(standin) == {attempt.id: 1}

        # A forged status for that attempt is refused and records nothing.
        forged = requests.post(
            f"{system.base}/api/v1/twilio/status?attempt={attempt.id}",
            data={"CallSid": "CA" + "f" * 32, "CallStatus": "no-answer"},
            headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
            timeout=10,
        )
        assert forged.status_code == 403
        with session_factory() as s:
            assert s.scalar(select(func.count()).select_from(AttemptStatusEvent)) == 0
            assert s.get(ContactAttempt, attempt.id).status == "started"
    finally:
        system.stop()


def test_concurrent_copies_of_one_job_dial_once(worker_env, standin, session_factory, redis_conn):
    port = free_port()
    env = e2e_env(worker_env, standin, port)
    system = System(env, port, session_factory).start(workers=2)
    try:
        system.close_order("+12175550152")
        with session_factory() as s:
            callback_id = s.scalars(select(Callback.id)).one()
        copies = [
            system.queue().enqueue(
                "dispatch.jobs.callbacks.place_callback_attempt", callback_id=callback_id, channel="voice"
            )
            for _ in range(6)
        ]
        wait_until(lambda: len(standin.calls()) >= 1, timeout=60, what="a dial")
        wait_until(lambda: all_done(copies), timeout=90, what="every copy to run")
        wait_until_quiet(env)
        assert len(standin.calls()) == 1 and list(dials_per_attempt(standin).values()) == [1]
    finally:
        system.stop()


def test_redis_stopped_while_closings_arrive_loses_no_callback(
    worker_env, standin, session_factory, redis_conn
):
    redis = PrivateRedis().start()
    port = free_port()
    env = {**e2e_env(worker_env, standin, port), "DISPATCH_REDIS_URL": redis.url}
    system = System(env, port, session_factory).start(workers=1)
    try:
        before = ["+12175550161", "+12175550162"]
        during = ["+12175550163", "+12175550164", "+12175550165"]
        for phone in before:
            system.close_order(phone)
        wait_until(lambda: len(standin.calls()) == 2, timeout=60, what="the first two dials")

        redis.stop()
        # The API keeps accepting sales and closings; the callbacks wait in the outbox.
        for phone in during:
            system.close_order(phone)
        with session_factory() as s:
            waiting = s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.job == "place_callback_attempt", OutboxMessage.dispatched_at.is_(None))
            )
            assert waiting == 3
        time.sleep(2)
        assert len(standin.calls()) == 2

        redis.start()  # an empty Redis on the same port: nothing survived in it
        for p in list(system.procs):
            if p.name in ("rq-worker", "rq-cron") and not p.alive():
                system.procs.append(start_worker(env) if p.name == "rq-worker" else start_cron(env))
        wait_until(
            lambda: len(standin.calls()) == 5, timeout=120, what="every callback placed after Redis returned"
        )
        wait_until_quiet(env)
        assert sorted(r.form["To"] for r in standin.calls()) == sorted(before + during)
        assert set(dials_per_attempt(standin).values()) == {1}
        with session_factory() as s:
            assert s.scalar(select(func.count()).select_from(Callback)) == 5
    finally:
        system.stop()
        redis.stop()
