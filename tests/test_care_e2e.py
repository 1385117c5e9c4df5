"""Care end to end through a real RQ worker and `rq cron`, the texts counted at the Twilio
stand-in: a campaign's batches (jobs through the outbox) and the daily maintenance pass (the cron
job, enqueued here twice, as two schedulers would) text each customer exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import select

from dispatch.care import campaigns
from dispatch.models import Campaign, Customer, MaintenanceInvitation, User, utcnow
from dispatch.platform.actors import Actor
from tests.care_support import Z, gas_plan, owner
from tests.procs import free_port, start_cron, start_worker, wait_until
from tests.quiet import wait_until_quiet
from tests.test_callbacks_e2e import e2e_env

pytestmark = pytest.mark.slow


def test_a_campaign_in_batches_and_the_daily_pass_text_each_customer_once(
    api, worker_env, standin, session_factory, settings
):
    env = {
        **e2e_env(worker_env, standin, free_port()),
        # Whatever the hour of the run: no quiet hours, and no rate limit slowing the batches.
        "DISPATCH_CONTACT_QUIET_HOURS_START": "00:00",
        "DISPATCH_CONTACT_QUIET_HOURS_END": "00:00",
        "DISPATCH_OUTBOUND_SMS_PER_SECOND": "50",
    }
    with session_factory() as session:
        gas_plan(session)  # every 12 months, invited 21 days ahead
        now = utcnow()
        coming_due = now.replace(year=now.year - 1, day=min(now.day, 28)) + timedelta(days=10)
        # Three units due for their tank cleaning in about ten days (invited now), two long past due.
        cold = [owner(session, city="Riverton", bought=coming_due) for _ in range(3)]
        cold += [owner(session, city="Riverton", bought=Z(2020, 1, 10, 12)) for _ in range(2)]
        owner(session, model="EW-50", city="Riverton")  # not a gas unit: no text
        boss = session.scalars(select(User).where(User.name == "demo-supervisor")).one()
        campaign = campaigns.save_campaign(
            session,
            Actor(user_id=boss.id, role="supervisor", name=boss.name),
            code="frost",
            name="Frost",
            product_lines=["gas_wh"],
            cities=["Riverton"],
            texts={"en": "Frost tonight: keep your gas heater powered.", "zh-CN": "今晚霜冻。"},
            batch_size=2,
        )
        campaigns.start(session, Actor(user_id=boss.id, role="supervisor"), campaign.id)
        session.commit()
        phones = [session.get(Customer, u.customer_id).phone for u in cold]
        cid = campaign.id
        coming_ids = sorted(u.id for u in cold[:3])
    procs = [start_cron(env), start_worker(env, scheduler=False)]
    try:
        wait_until(lambda: len(standin.messages()) >= len(phones), timeout=60, what="the campaign's texts")
        # The daily pass, enqueued twice as two schedulers would.
        queue = Queue(f"{settings['QUEUE_PREFIX']}-default", connection=Redis.from_url(settings["REDIS_URL"]))
        jobs = [queue.enqueue("dispatch.jobs.tasks.care_daily") for _ in range(2)]
        wait_until(
            lambda: all(j.get_status(refresh=True) == "finished" for j in jobs), timeout=60, what="the pass"
        )
        wait_until(lambda: len(standin.messages()) >= len(phones) + 3, timeout=60, what="the invitations")
        wait_until_quiet(env)
        # The campaign once to each gas owner; the invitation once to each owner coming due.
        assert Counter(r.form["To"] for r in standin.messages()) == Counter(phones + phones[:3])
        invitations = [r.form["Body"] for r in standin.messages() if "tank cleaning" in r.form["Body"]]
        assert len(invitations) == 3 and all("Reply YES" in body for body in invitations)
        with session_factory() as session:
            done = session.get(Campaign, cid)
            assert (done.state, done.contacted, done.batches) == ("finished", 5, 3)
            invited = session.scalars(select(MaintenanceInvitation.unit_id)).all()
            assert sorted(invited) == coming_ids
    finally:
        for proc in procs:
            proc.stop()
