"""Providers told, end to end through a real `rq worker` and `rq cron` (the outbox relay): a sale's
order reaches its provider as one text (at the Twilio stand-in) and one signed webhook (at a
receiver written from the Standard Webhooks description). The worker is killed while Twilio is
still answering the text: the text is never sent again (it may have gone out: marked uncertain),
and the webhook, refused once with a 503, is retried under the same id and accepted once."""

from __future__ import annotations

import os
import signal

import pytest
from sqlalchemy import select

from dispatch.models import NoticeDelivery, OutboxMessage
from tests.procs import children, free_port, start_cron, start_worker, wait_until
from tests.quiet import wait_until_quiet
from tests.test_callbacks_e2e import e2e_env
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.slow

SPR_HEAT_PHONE = "+12175550101"


def test_a_text_goes_once_though_its_worker_dies_and_a_refused_webhook_is_retried_under_its_id(
    api, worker_env, standin, session_factory, redis_conn
):
    receiver = Receiver().start()
    endpoint = api.put("/api/v1/providers/SPR-HEAT/endpoint", "admin", {"url": receiver.url})
    receiver.secret = endpoint.get_json()["secret"]
    receiver.answers = [503]
    env = {
        **e2e_env(worker_env, standin, free_port()),
        "DISPATCH_PROVIDER_QUIET_HOURS": "",
        "DISPATCH_PROVIDER_NOTICE_RETRY_SECONDS": "1,1",
        "DISPATCH_OUTBOX_REDELIVER_SECONDS": "3",
    }
    procs = [start_worker(env), start_cron(env)]
    try:
        standin.delay = 8.0  # Twilio is slow to answer: the worker is inside messages.create
        order_id = api.sale()["work_orders"][0]["id"]
        wait_until(
            lambda: len(standin.messages()) == 1, timeout=60, what="the provider's text to reach Twilio"
        )
        worker = procs[0]
        for pid in [*children(worker.pid), worker.pid]:  # the job runs in the worker's own process
            os.kill(pid, signal.SIGKILL)
        worker.popen.wait(5)
        standin.delay = 0.0
        procs.append(start_worker(env))

        def text_id() -> int:
            with session_factory() as session:
                return session.scalar(select(NoticeDelivery.id).where(NoticeDelivery.channel == "text"))

        def statuses() -> dict[str, str]:
            with session_factory() as session:
                return dict(session.execute(select(NoticeDelivery.channel, NoticeDelivery.status)).all())

        wait_until(
            lambda: statuses() == {"text": "uncertain", "webhook": "delivered"},
            timeout=60,
            what="the text found unfinished and the webhook delivered",
        )
        with session_factory() as session:  # the request whose job died with the first worker
            killed = session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.job == "deliver_notice",
                    OutboxMessage.payload["delivery_id"].as_integer() == text_id(),
                )
            ).all()
        wait_until_quiet(
            env, abandoned=set(killed)
        )  # nothing queued, running or due: a second text would show by now
    finally:
        for proc in procs:
            proc.stop()
        receiver.stop()
    assert [m.form["To"] for m in standin.messages()] == [SPR_HEAT_PHONE]  # sent once, never again
    assert [(d.status, d.verdict) for d in receiver.deliveries] == [(503, "answered 503"), (200, "accepted")]
    assert len({d.headers["webhook-id"] for d in receiver.deliveries}) == 1
    assert receiver.deliveries[1].json["data"]["work_order_id"] == order_id
