"""The hotline desk's queue of customers waiting for a call and the card's messages, in a real
browser (Playwright on Debian's Chromium): a customer who replied CHANGE to her confirmation is on
the desk with her phone, order and booked time; the agent calls, marks it done; the card shows
every message with its reason. Screenshots go to var/screenshots/."""

from __future__ import annotations

import re

import pytest

from dispatch.telephony import conversation
from tests.helpers import future_window
from tests.test_reminders import EN_PHONE, run_jobs
from tests.test_web_browser import browser, expect, loaded, open_page, server, shoot, sign_in  # noqa: F401
from tests.test_web_hotline_browser import desk  # noqa: F401

pytestmark = pytest.mark.slow

# Whatever the hour of the run: no quiet hours for the confirmation.
AWAKE = {"CONTACT_QUIET_HOURS_START": "00:00", "CONTACT_QUIET_HOURS_END": "00:00"}


def test_the_desk_lists_who_asked_for_another_time_and_the_card_every_message(
    server,  # noqa: F811
    open_page,  # noqa: F811
    desk,  # noqa: F811
    api,
    session,
    cfg,
):
    order = api.sale(phone=EN_PHONE, name="Mary Smith", appointment=future_window(days=3))["work_orders"][0]
    assert [status for status, _ in run_jobs(session, {**cfg, **AWAKE})] == ["sent"]
    assert "call you" in conversation.text_received(session, EN_PHONE, "CHANGE", cfg)
    session.commit()

    page, _watch = open_page()
    sign_in(page, server, "demo-agent")
    loaded(page)
    queue = page.get_by_role("region", name=re.compile("Customers waiting for a call"))
    expect(queue).to_contain_text("Customers waiting for a call (1)")
    row = queue.get_by_role("row", name=re.compile("Mary Smith"))
    expect(row).to_contain_text(EN_PHONE)
    expect(row).to_contain_text(f"#{order['id']}")
    expect(row).to_contain_text("Asks for another time")
    expect(row.get_by_role("link", name=EN_PHONE)).to_have_attribute("href", f"tel:{EN_PHONE}")
    shoot(page, "hotline-05-waiting-for-a-call")
    row.get_by_label(re.compile("Note for request")).fill("called, moved to Friday")
    with page.expect_navigation():
        row.get_by_role("button", name=re.compile("Done #")).click()
    expect(page.get_by_text(re.compile(r"Request #\d+ is done\."))).to_be_visible()
    expect(page.get_by_text("Nobody is waiting for a call.")).to_be_visible()

    page.get_by_label("Phone, name, address or city").fill("Mary Smith")
    page.get_by_label("Phone, name, address or city").press("Enter")
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("Mary Smith")).first.click()
    messages = page.get_by_role("region", name="Messages to Mary Smith")
    expect(messages).to_contain_text("Sent · booking confirmation")
    expect(messages).to_contain_text("Reply CHANGE to ask for another time.")
    expect(messages).to_contain_text("Customer replied · booking confirmation")
    shoot(page, "hotline-06-card-messages")
