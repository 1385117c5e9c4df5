"""Exactly once, end to end: booked orders' confirmations sent by real RQ workers through the real
Twilio SDK to the stand-in, with two schedulers (`rq cron`) relaying at once and a worker killed
(SIGKILL) in the middle of the batch, then replaced. Texts are counted where Twilio would count
them: at the stand-in, per number."""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from dispatch import outreach
from dispatch.models import CustomerMessage, OutboxMessage, PersonRequest, Provider, utcnow
from tests.helpers import future_window, sale_body
from tests.procs import children, free_port, start_cron, start_worker, wait_until
from tests.quiet import wait_until_quiet
from tests.test_callbacks_e2e import e2e_env

pytestmark = pytest.mark.slow

PHONES = [f"+1217555{n:04d}" for n in range(3101, 3111)]


def test_each_text_goes_out_once_with_two_schedulers_and_a_worker_killed_mid_batch(
    api, cfg, worker_env, standin, session_factory, redis_conn
):
    env = {
        **e2e_env(worker_env, standin, free_port()),
        # Whatever the hour of the run: no quiet hours, and no rate limit slowing the batch.
        "DISPATCH_CONTACT_QUIET_HOURS_START": "00:00",
        "DISPATCH_CONTACT_QUIET_HOURS_END": "00:00",
        "DISPATCH_OUTBOUND_SMS_PER_SECOND": "50",
    }
    with session_factory() as s:  # providers' notices go by text too: here only customers' count
        s.execute(update(Provider).values(phone=None))
        s.commit()
    for phone in PHONES:  # each sale books one order: its confirmation is due at once
        response = api.post(
            "/api/v1/sales", "sales", {**sale_body(phone=phone), "appointment": future_window(days=4)}
        )
        assert response.status_code == 201, response.get_json()
    standin.delay = 1.0  # Twilio is slow to answer: the worker is inside messages.create
    procs = [start_cron(env), start_cron(env), start_worker(env, scheduler=False)]
    try:
        wait_until(lambda: len(standin.messages()) >= 3, timeout=60, what="the first texts")
        worker = procs[-1]
        for pid in [*children(worker.pid), worker.pid]:
            os.kill(pid, signal.SIGKILL)
        worker.popen.wait(5)
        standin.delay = 0.0
        with session_factory() as s:
            (taken,) = s.scalars(select(CustomerMessage).where(CustomerMessage.status == "sending")).all()
            killed = {
                row.id
                for row in s.scalars(
                    select(OutboxMessage).where(OutboxMessage.job == "send_customer_message")
                )
                if row.payload["message_id"] == taken.id
            }
        procs.append(start_worker(env, scheduler=False))
        wait_until(lambda: len(standin.messages()) >= len(PHONES), timeout=60, what="every confirmation sent")
        wait_until_quiet(env, abandoned=killed)
        per_number = Counter(r.form["To"] for r in standin.messages())
        assert per_number == Counter(PHONES)  # each exactly once, the killed one included
        with session_factory() as s:
            statuses = Counter(
                s.scalars(
                    select(CustomerMessage.status).where(CustomerMessage.purpose == "booking_confirmation")
                )
            )
            assert statuses == {"sent": len(PHONES) - 1, "sending": 1}
            # The one the worker died sending may have gone out: a person checks, it is never resent.
            report = outreach.sending.sweep(s, utcnow() + timedelta(minutes=10), cfg)
            s.commit()
            assert report.uncertain == 1
            assert s.get(CustomerMessage, taken.id).status == "uncertain"
            assert [(r.kind, r.message_id) for r in s.scalars(select(PersonRequest))] == [
                ("check_text", taken.id)
            ]
        wait_until_quiet(env, abandoned=killed)
        assert Counter(r.form["To"] for r in standin.messages()) == Counter(PHONES)
    finally:
        for proc in procs:
            proc.stop()
