"""The care pages through Flask's test client: a supervisor defines a campaign (field errors beside
the fields, typed values kept), reads its preview by reason, runs and pauses it; the hotline desk
lists the units past their maintenance."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dispatch.models import Campaign, OutboxMessage
from tests.care_support import Z, gas_plan, owner
from tests.web_support import login, post_form, set_password


def _signed_in(client, session_factory, redis_conn, settings, name: str):
    set_password(session_factory, name)
    login(client, name)
    return client


@pytest.fixture
def boss(client, api, session_factory, redis_conn, settings):
    """The demo supervisor, signed in."""
    yield _signed_in(client, session_factory, redis_conn, settings, "demo-supervisor")
    for key in redis_conn.scan_iter(f"*{settings['QUEUE_PREFIX']}-login*"):
        redis_conn.delete(key)


def test_a_supervisor_defines_previews_runs_and_pauses_a_campaign(boss, session):
    owner(session, model="GW-40", city="Riverton")
    owner(session, model="EW-50", city="Riverton")
    session.commit()
    form = {
        "code": "frost",
        "name": "Frost protection",
        "product_lines": ["gas_wh", "gas_boiler"],
        "cities": ["Riverton"],
        "text_en": "Frost tonight: keep your heater powered.",
        "text_zh": "",
        "batch_size": "100",
    }
    refused = post_form(boss, "/supervise/campaigns", form, "/supervise/campaigns")
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="text_zh-error"' in html and "every language" in html  # beside the field
    assert "Frost tonight: keep your heater powered." in html and 'value="frost"' in html  # kept
    assert 'value="gas_boiler" checked' in html
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0

    saved = post_form(
        boss,
        "/supervise/campaigns",
        {**form, "text_zh": "今晚霜冻，请保持热水器通电。"},
        "/supervise/campaigns",
    )
    assert saved.status_code == 303
    page = boss.get(saved.headers["Location"])
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Preview: 1 would be contacted, 1 left out" in text
    assert "No unit of these product lines in these cities" in text

    campaign_page = saved.headers["Location"]
    cid = int(campaign_page.rsplit("/", 1)[1])
    ran = post_form(boss, f"/supervise/campaigns/{cid}/run", {}, campaign_page)
    assert ran.status_code == 303
    assert "running" in boss.get(campaign_page).get_data(as_text=True)
    assert session.scalar(select(func.count()).where(OutboxMessage.job == "care_campaign_batch")) == 1
    paused = post_form(boss, f"/supervise/campaigns/{cid}/pause", {}, campaign_page)
    assert paused.status_code == 303
    assert "Resume campaign" in boss.get(campaign_page).get_data(as_text=True)


def test_the_hotline_desk_lists_units_past_their_maintenance(
    client, api, session, session_factory, redis_conn, settings
):
    gas_plan(session)
    late = owner(session, bought=Z(2020, 1, 10, 12), name="Late Larry")
    session.commit()
    desk = _signed_in(client, session_factory, redis_conn, settings, "demo-agent")
    assert 'hx-get="/hotline/maintenance-due"' in desk.get("/hotline").get_data(as_text=True)
    section = desk.get("/hotline/maintenance-due").get_data(as_text=True)
    assert "Late Larry" in section and f"/hotline/customers/{late.customer_id}" in section
    assert "tank cleaning" in section
    for key in redis_conn.scan_iter(f"*{settings['QUEUE_PREFIX']}-login*"):
        redis_conn.delete(key)
