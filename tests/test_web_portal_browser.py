# ruff: noqa: F811 - the browser fixtures are imported from test_web_browser and used as arguments
"""The providers' portal and the supervisors' pages in a real browser (Chromium through
Playwright), phone first: a provider closes an order at 390x844; another provider's order or
complaint by URL is 404; the notices it was sent, with each delivery; a supervisor moves a complaint on and assigns an order nobody covers.
Screenshots of every page at both sizes go to var/screenshots/."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from dispatch.models import Visit, WorkOrder
from dispatch.telephony import make_gateway
from tests.callbacks_support import ALL_DAY
from tests.helpers import future_window
from tests.notices_support import awake, run_due
from tests.test_web_browser import browser, open_page, server, shoot, sign_in  # noqa: F401 - fixtures
from tests.test_web_portal import complaint_against
from tests.web_support import set_password

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = pytest.mark.slow

APP_SETTINGS = ALL_DAY


@pytest.fixture
def people(api, session_factory, server, redis_conn, settings):
    for name in ("demo-provider-SPR-HEAT", "demo-provider-RIV-PRO", "demo-supervisor"):
        set_password(session_factory, name)
    yield
    for key in redis_conn.scan_iter(f"*{settings['QUEUE_PREFIX']}-login*"):
        redis_conn.delete(key)


def test_a_provider_closes_an_order_on_a_phone(server, open_page, people, api, session_factory, cfg):
    booked = api.sale(name="Pat Booked", address="9 Birch Rd", appointment=future_window(days=2))
    order_id = booked["work_orders"][0]["id"]
    api.sale(name="Sam Pending", address="3 Pine Ct", phone="+1 217 555 0111")
    run_due(session_factory, awake(cfg), lambda: make_gateway(dict(cfg), lambda *_: None))  # told
    _order, complaint_id = complaint_against(api, session_factory, cfg)

    page, _ = open_page("phone")
    sign_in(page, server, "demo-provider-SPR-HEAT")
    expect(page.get_by_role("heading", name="Your orders")).to_be_visible()
    expect(page.get_by_text("9 Birch Rd, Springfield")).to_be_visible()
    shoot(page, "20-portal-orders")

    page.get_by_role("link", name=re.compile(rf"#{order_id} ")).click()
    expect(page.get_by_role("heading", name=re.compile(rf"Order #{order_id}"))).to_be_visible()
    expect(page.get_by_role("link", name="+12175550199")).to_have_attribute("href", "tel:+12175550199")
    shoot(page, "21-portal-order")

    reason = page.get_by_label(re.compile("Why was the job not completed"))
    page.get_by_role("radio", name="Completed", exact=True).check()
    expect(reason).to_be_hidden()  # asked for only when the job was not completed
    page.get_by_role("radio", name="Not completed").check()
    expect(reason).to_be_visible()
    page.get_by_label("Note").fill("Rang twice, left a card")
    page.get_by_role("button", name="Close order").click()  # no reason, no installer: said beside each
    expect(page.get_by_text("Choose why the job was not completed.")).to_be_visible()
    expect(page.get_by_text("Choose the installer who did the visit.")).to_be_visible()
    expect(page.get_by_label("Note")).to_have_value("Rang twice, left a card")
    expect(reason).to_be_focused()  # the first field to fix
    shoot(page, "22-portal-close-errors")

    reason.select_option("customer_not_home")
    page.get_by_label("Installer").select_option(label="Ana Ortiz (SH-01)")
    page.get_by_role("button", name="Close order").click()
    expect(page.get_by_text(f"Order #{order_id} closed: not completed")).to_be_visible()
    expect(page.get_by_role("button", name="Close order")).to_have_count(0)
    expect(page.get_by_text("Ana Ortiz · not completed: the customer was not at home")).to_be_visible()
    shoot(page, "23-portal-closed")
    with session_factory() as session:
        assert session.get(WorkOrder, order_id).state == "closed_not_completed"
        assert len(session.scalars(select(Visit).where(Visit.work_order_id == order_id)).all()) == 1

    page.get_by_role("link", name="Complaints").click()
    expect(page.get_by_role("heading", name=re.compile("Complaints about your work"))).to_be_visible()
    shoot(page, "24-portal-complaints")
    page.get_by_role("link", name=re.compile(rf"Complaint #{complaint_id}")).click()
    expect(page.locator(".claim")).to_contain_text("The customer said nobody came")
    shoot(page, "25-portal-complaint")
    page.get_by_role("link", name="Notices").click()
    expect(page.get_by_role("heading", name=re.compile("Notices sent to you"))).to_be_visible()
    told = page.get_by_role("listitem").filter(has_text=f"New order · order #{order_id}")
    expect(told).to_contain_text("Text: delivered")
    shoot(page, "26-portal-notices")


def test_another_providers_order_or_complaint_by_url_is_404(
    server, open_page, people, api, session_factory, cfg
):
    order_id, complaint_id = complaint_against(api, session_factory, cfg)
    page, _ = open_page("phone")
    sign_in(page, server, "demo-provider-RIV-PRO")
    for path in (f"/portal/orders/{order_id}", f"/portal/complaints/{complaint_id}"):
        response = page.goto(server + path)
        assert response.status == 404, path
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        expect(page.get_by_text("Nora Home")).to_have_count(0)
    shoot(page, "27-portal-not-found")


def test_a_supervisor_moves_a_complaint_on_and_assigns_an_order(
    server, open_page, people, api, session_factory, cfg
):
    _order, complaint_id = complaint_against(api, session_factory, cfg)
    nobody = api.sale(city="Bayview", name="Bea Bay", phone="+1 415 555 0114")["work_orders"][0]["id"]
    page, _ = open_page("desktop")
    sign_in(page, server, "demo-supervisor")
    expect(page.get_by_role("heading", name=re.compile("Complaints"))).to_be_visible()
    shoot(page, "30-supervise-complaints")
    page.get_by_role("link", name=re.compile(rf"Complaint #{complaint_id}")).click()
    page.get_by_role("button", name="Save status").click()  # nothing chosen: said beside each field
    expect(page.get_by_text("Write a note")).to_be_visible()
    shoot(page, "31-supervise-complaint-errors")
    page.get_by_role("radio", name="Investigating").check()
    page.get_by_label(re.compile("^Note")).fill("Asked the installer for his route log")
    page.get_by_role("button", name="Save status").click()
    expect(page.get_by_text(f"Complaint #{complaint_id} is investigating now.")).to_be_visible()
    shoot(page, "32-supervise-complaint")

    page.get_by_role("link", name="Unassigned orders").click()
    expect(page.get_by_role("heading", name=re.compile("Orders nobody covers"))).to_be_visible()
    shoot(page, "33-supervise-unassigned")
    page.get_by_label(f"Provider for order #{nobody}").select_option("LAKE-SVC")
    page.get_by_role("button", name=f"Assign #{nobody}").click()
    expect(page.get_by_text(f"Order #{nobody} assigned to Lakeside Service Co.")).to_be_visible()
    shoot(page, "34-supervise-assigned")

    run_due(session_factory, awake(cfg), lambda: make_gateway(dict(cfg), lambda *_: None))  # told
    page.get_by_role("link", name="Provider notices").click()
    page.get_by_label("Provider", exact=True).select_option("LAKE-SVC")
    page.get_by_role("button", name="Show").click()
    told = page.get_by_role("listitem").filter(has_text=f"New order · order #{nobody}")
    expect(told).to_contain_text("Lakeside Service Co")
    expect(told).to_contain_text("Text: delivered")
    shoot(page, "35-supervise-notices")
