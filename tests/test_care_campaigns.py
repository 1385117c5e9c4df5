"""Seasonal campaigns: targeting and the preview counted by reason, runs in batches that two
runners cannot double, pause and resume, and the proactive cap applied at send time."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from dispatch import outreach
from dispatch.care import campaigns
from dispatch.models import (
    Campaign,
    CampaignContact,
    Customer,
    CustomerMessage,
    MessageStatus,
    OutboxMessage,
    User,
    utcnow,
)
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Conflict
from tests.care_support import Z, opt_out, owner

NOW = Z(2031, 11, 12, 17)  # a Wednesday, daytime in every US zone
TEXTS = {
    "en": "Frost is coming: drain your gas heater if you leave.",
    "zh-CN": "寒潮将至，请做好燃气热水器防冻。",
}


@pytest.fixture
def boss(api, session) -> Actor:
    user = session.scalars(select(User).where(User.name == "demo-supervisor")).one()
    return Actor(user_id=user.id, role="supervisor", name=user.name)


def _frost(session, boss, **kw) -> Campaign:
    body = {
        "code": "frost",
        "name": "Frost protection",
        "product_lines": ["gas_wh", "gas_boiler"],
        "cities": ["Riverton", "Lakeside"],
        "texts": TEXTS,
        **kw,
    }
    made = campaigns.save_campaign(session, boss, **body)
    session.commit()
    return made


def _proactive_sent(session, unit, n: int, at) -> None:
    """`n` proactive texts that already went out to the unit's owner at `at`."""
    for i in range(n):
        message = outreach.queue(
            session,
            Actor.system("test"),
            customer_id=unit.customer_id,
            purpose="campaign",
            transactional=False,
            dedupe_key=f"earlier:{unit.customer_id}:{i}",
            params={"campaign_id": 0},
        )
        assert message is not None
        message.status, message.started_at, message.sent_at = MessageStatus.SENT.value, at, at
    session.flush()


@pytest.fixture
def town(session, boss):
    """One customer for each reason a campaign may leave them out, and two it would contact."""
    people = {
        "gas_cold": owner(session, model="GW-40", city="Riverton"),
        "boiler_cold": owner(session, model="GB-24", city="Lakeside"),
        "gas_warm": owner(session, model="GW-40", city="Springfield"),
        "electric_cold": owner(session, model="EW-50", city="Riverton"),
        "opted_out": owner(session, model="GW-60", city="Riverton"),
        "erased": owner(session, model="GW-40", city="Lakeside"),
        "capped": owner(session, model="GW-40", city="Riverton"),
    }
    opt_out(session, people["opted_out"])
    session.get(Customer, people["erased"].customer_id).erased_at = NOW - timedelta(days=30)
    _proactive_sent(session, people["capped"], 2, NOW - timedelta(days=1))  # Tuesday: this week
    session.commit()
    return {k: u.customer_id for k, u in people.items()}


def test_the_preview_counts_everyone_by_reason_with_a_sample(session, boss, town, cfg):
    campaign = _frost(session, boss)
    seen = campaigns.preview(session, campaign.id, cfg, now=NOW)
    assert seen.counts == {
        "contact": 2,
        "cap_reached": 1,
        "already_contacted": 0,
        "opted_out": 1,
        "no_matching_unit": 2,
        "erased": 1,
    }
    assert sorted(seen.samples["contact"]) == sorted([town["gas_cold"], town["boiler_cold"]])
    assert sorted(seen.samples["no_matching_unit"]) == sorted([town["gas_warm"], town["electric_cold"]])
    assert seen.samples["opted_out"] == [town["opted_out"]] and seen.samples["erased"] == [town["erased"]]
    # Next week the cap counts again from zero (the customer's local calendar week).
    assert (
        campaigns.preview(session, campaign.id, cfg, now=NOW + timedelta(days=7)).counts["cap_reached"] == 0
    )


def test_no_city_listed_means_every_city(session, boss, town, cfg):
    campaign = _frost(session, boss, cities=[])
    counts = campaigns.preview(session, campaign.id, cfg, now=NOW).counts
    assert counts["contact"] == 3 and counts["no_matching_unit"] == 1  # the warm city's gas owner is in


def _run_all(session, campaign_id: int) -> list[int | None]:
    """Run the batch jobs requested through the outbox, in order, as the worker would."""
    done = []
    while True:
        campaign = session.get(Campaign, campaign_id, populate_existing=True)
        job = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.job == campaigns.BATCH_JOB, OutboxMessage.completed_at.is_(None))
            .order_by(OutboxMessage.id)
        ).first()
        if job is None:
            return done
        done.append(campaigns.run_batch(session, **job.payload, now=NOW))
        job.completed_at = utcnow()
        session.commit()
        assert len(done) < 20, f"runaway batches: {campaign.batches}"


def test_a_run_goes_in_batches_pauses_resumes_and_contacts_nobody_twice(
    session, session_factory, boss, town, cfg
):
    campaign = _frost(session, boss, batch_size=1)
    campaigns.start(session, boss, campaign.id)
    session.commit()
    first = session.scalars(select(OutboxMessage).where(OutboxMessage.job == campaigns.BATCH_JOB)).one()
    payload = dict(first.payload)

    # Two runners of the first batch at once (a job handed over twice): one contacts, one waits
    # on the campaign's lock and then finds the batch done.
    results: list[int | None] = []
    barrier = threading.Barrier(2)

    def runner() -> None:
        with session_factory() as own:
            barrier.wait()
            results.append(campaigns.run_batch(own, **payload, now=NOW))
            own.commit()

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results, key=str) == [1, None]
    first.completed_at = utcnow()
    campaigns.pause(session, boss, campaign.id)
    session.commit()
    # The second batch's job was requested before the pause: it finds the campaign paused.
    assert _run_all(session, campaign.id) == [None]
    assert session.scalar(select(func.count()).select_from(CampaignContact)) == 1

    campaigns.resume(session, boss, campaign.id)
    session.commit()
    ran = _run_all(session, campaign.id)
    assert ran == [1, 1, 0]  # the other one to contact, the capped one, then nobody left: finished
    session.expire_all()
    campaign = session.get(Campaign, campaign.id)
    assert (campaign.state, campaign.contacted, campaign.batches) == ("finished", 3, 4)
    texts = session.execute(
        select(CustomerMessage.customer_id, func.count())
        .where(CustomerMessage.purpose == campaigns.PURPOSE, CustomerMessage.dedupe_key.like("campaign:%"))
        .group_by(CustomerMessage.customer_id)
    ).all()
    assert dict(texts) == {town["gas_cold"]: 1, town["boiler_cold"]: 1, town["capped"]: 1}
    with pytest.raises(Conflict):
        campaigns.resume(session, boss, campaign.id)
    # The preview now shows them contacted already.
    counts = campaigns.preview(session, campaign.id, cfg, now=NOW).counts
    assert counts["already_contacted"] == 3 and counts["contact"] == 0


def test_campaigns_are_proactive_the_cap_holds_back_the_capped_one_at_send_time(session, boss, town, cfg):
    campaign = _frost(session, boss)
    campaigns.start(session, boss, campaign.id)
    session.commit()
    _run_all(session, campaign.id)
    messages = {
        m.customer_id: m.id
        for m in session.scalars(select(CustomerMessage).where(CustomerMessage.dedupe_key.like("campaign:%")))
    }
    with time_machine.travel(NOW, tick=False):
        settings = {**cfg, "CONTACT_QUIET_HOURS_START": "00:00", "CONTACT_QUIET_HOURS_END": "00:00"}
        going = outreach.sending.prepare(session, messages[town["gas_cold"]], NOW, settings)
        held_back = outreach.sending.prepare(session, messages[town["capped"]], NOW, settings)
        session.commit()
    assert going is not None and going.body == TEXTS["en"]
    assert held_back is None
    capped = session.get(CustomerMessage, messages[town["capped"]])
    assert capped.status == MessageStatus.CAPPED and "cap" in (capped.reason or "")


def test_supervisors_define_preview_and_run_campaigns_through_the_api(api, town):
    body = {
        "code": "frost",
        "name": "Frost",
        "product_lines": ["gas_wh"],
        "cities": ["Riverton"],
        "texts": TEXTS,
    }
    missing = api.post("/api/v1/campaigns", "supervisor", json={**body, "texts": {"en": "Hi"}})
    assert missing.status_code == 422 and "texts.zh-CN" in str(missing.get_json())
    unknown = api.post("/api/v1/campaigns", "supervisor", json={**body, "cities": ["Atlantis"]})
    assert unknown.status_code == 422 and "cities.0" in str(unknown.get_json())
    assert api.post("/api/v1/campaigns", "agent", json=body).status_code == 403
    created = api.post("/api/v1/campaigns", "supervisor", json=body)
    assert created.status_code == 201, created.get_json()
    cid = created.get_json()["id"]
    preview = api.get(f"/api/v1/campaigns/{cid}/preview", "supervisor").get_json()
    assert preview["counts"]["contact"] == 1 and preview["would_contact"] == 1  # gas in Riverton only
    assert api.post(f"/api/v1/campaigns/{cid}/pause", "supervisor").status_code == 409
    assert api.post(f"/api/v1/campaigns/{cid}/run", "supervisor").get_json()["state"] == "running"
    assert api.post(f"/api/v1/campaigns/{cid}/run", "supervisor").status_code == 409
    assert api.post("/api/v1/campaigns", "supervisor", json=body).status_code == 409  # only a draft changes
    assert api.post(f"/api/v1/campaigns/{cid}/pause", "supervisor").get_json()["state"] == "paused"
    assert api.post(f"/api/v1/campaigns/{cid}/resume", "supervisor").get_json()["state"] == "running"
