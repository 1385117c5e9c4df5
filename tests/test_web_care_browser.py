"""The care pages in a real browser: the hotline desk's section of units past their maintenance
(loaded by htmx), and a supervisor's campaign from its definition to its preview and run.
Screenshots under var/screenshots/ (care-*)."""

from __future__ import annotations

import pytest

from tests.care_support import Z, gas_plan, owner
from tests.test_web_browser import browser, expect, open_page, server, shoot, sign_in  # noqa: F401
from tests.web_support import set_password

pytestmark = pytest.mark.slow


@pytest.fixture
def people(api, session_factory, redis_conn, settings):
    for name in ("demo-agent", "demo-supervisor"):
        set_password(session_factory, name)
    yield
    for key in redis_conn.scan_iter(f"*{settings['QUEUE_PREFIX']}-login*"):
        redis_conn.delete(key)


def test_the_desk_lists_units_past_due_and_a_supervisor_previews_and_runs_a_campaign(
    people,
    session,
    open_page,  # noqa: F811
    server,  # noqa: F811
):
    gas_plan(session)
    owner(session, bought=Z(2020, 1, 10, 12), name="Late Larry", city="Riverton")
    owner(session, model="EW-50", city="Riverton")
    session.commit()

    page, _ = open_page()
    sign_in(page, server, "demo-agent")
    section = page.get_by_role("region", name="Maintenance past due")
    expect(section.get_by_role("link", name="Late Larry")).to_be_visible()  # swapped in by htmx
    shoot(page, "care-hotline-past-due")

    page, _ = open_page()
    sign_in(page, server, "demo-supervisor")
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_label("Code").fill("frost")
    page.get_by_label("Name").fill("Frost protection")
    page.get_by_label("Gas water heaters").check()
    page.get_by_label("Riverton").check()
    page.get_by_label("Text in English").fill("Frost tonight: keep your gas heater powered.")
    page.get_by_role("button", name="Save campaign").click()
    expect(page.get_by_text("Every language it speaks", exact=False)).to_be_visible()  # beside the field
    expect(page.get_by_label("Text in English")).to_have_value("Frost tonight: keep your gas heater powered.")
    shoot(page, "care-campaign-form-error")
    page.get_by_label("Text in Mandarin (zh-CN)").fill("今晚霜冻，请保持燃气热水器通电。")
    page.get_by_role("button", name="Save campaign").click()
    expect(page.get_by_role("heading", name="Preview: 1 would be contacted, 1 left out")).to_be_visible()
    shoot(page, "care-campaign-preview")
    page.get_by_role("button", name="Run campaign").click()
    expect(page.get_by_role("button", name="Pause campaign")).to_be_visible()
