"""The hotline desk in a real browser (Playwright on Debian's Chromium): an agent finds a customer
from part of a phone number, keys in a phoned-in sale and books it. Screenshots of each page at
desktop and phone sizes go to var/screenshots/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from dispatch.models import Sale, WorkOrder
from tests.test_web_browser import browser, expect, loaded, open_page, server, shoot, sign_in  # noqa: F401
from tests.web_support import set_password

pytestmark = pytest.mark.slow


@pytest.fixture
def desk(api, session_factory, server, redis_conn, settings):  # noqa: F811
    set_password(session_factory, "demo-agent")
    yield
    for key in redis_conn.scan_iter(f"*{settings['QUEUE_PREFIX']}-login*"):
        redis_conn.delete(key)


def test_an_agent_finds_a_customer_by_part_of_the_phone_keys_in_a_sale_and_books_it(
    server,  # noqa: F811
    open_page,  # noqa: F811
    desk,
    api,
    session_factory,
):
    api.sale(phone="+1 217 555 0199", name="Mary Smith", address="12 Elm St")
    api.sale(phone="+1 217 555 0142", name="John Smithers", address="3 Oak Ave")
    page, _watch = open_page()
    sign_in(page, server, "demo-agent")
    search = page.get_by_label("Phone, name, address or city")
    expect(search).to_be_focused()
    loaded(page)
    search.press_sequentially("555 0199", delay=40)  # as typed on a call: htmx asks after a pause
    result = page.get_by_role("link", name=re.compile("Mary Smith"))
    expect(result).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("John Smithers"))).to_have_count(0)
    expect(result).to_contain_text("12 Elm St, Springfield")
    expect(result).to_contain_text("1 unit")
    shoot(page, "hotline-01-search")

    search.fill("")
    search.press_sequentially("smith MARY", delay=20)  # name words in any order, any case
    expect(page.get_by_role("link", name=re.compile("John Smithers"))).to_have_count(0)
    page.keyboard.press("Tab")  # keyboard: from the box to the first result
    expect(result).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Mary Smith", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="+12175550199")).to_have_attribute("href", "tel:+12175550199")
    shoot(page, "hotline-02-card")

    page.get_by_role("link", name="Key in a sale for Mary Smith").click()
    expect(page.get_by_role("heading", name="Key in a phoned-in sale")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("Mary Smith")
    expect(page.get_by_label("Shop")).to_be_focused()
    page.get_by_role("button", name="Save the sale").click()  # shop, salesperson, model missing
    expect(page.get_by_text("Which shop sold it.")).to_be_visible()
    expect(page.get_by_text("Choose the product model.")).to_be_visible()
    expect(page.get_by_label("Shop")).to_be_focused()  # the first field to fix
    shoot(page, "hotline-03-sale-errors")
    page.get_by_label("Shop").fill("Main St Appliances")
    page.get_by_label("Salesperson").fill("Jo Counter")
    page.get_by_label("Product model").select_option("EW-50")
    page.get_by_label("Serial number").fill("SN-PHONE-1")
    with page.expect_navigation():
        page.get_by_role("button", name="Save the sale").click()
    expect(page.get_by_text(re.compile(r"Sale #\d+ keyed in"))).to_be_visible()
    with session_factory() as session:
        sale = session.scalars(select(Sale).where(Sale.channel == "phone")).one()
        order = session.scalars(select(WorkOrder).where(WorkOrder.sale_id == sale.id)).one()
        assert order.state == "pending"

    form = page.get_by_role("form", name=f"Book order #{order.id}")
    day = (datetime.now(UTC).astimezone(ZoneInfo("America/Chicago")) + timedelta(days=2)).date()
    form.get_by_label("Day").fill(day.isoformat())
    form.get_by_label("From").fill("09:00")
    form.get_by_label("To").fill("12:00")
    with page.expect_navigation():
        form.get_by_role("button", name=f"Book order #{order.id}").click()
    expect(page.get_by_text(re.compile(rf"Order #{order.id} is booked for .* 09:00–12:00"))).to_be_visible()
    move = page.get_by_role("form", name=f"Move order #{order.id}")
    expect(move).to_be_hidden()  # folded: booking again is the exception
    page.get_by_text(f"Move the appointment of order #{order.id}…").click()
    expect(move).to_be_visible()
    with session_factory() as session:
        booked = session.get(WorkOrder, order.id)
        assert booked.state == "booked"
        assert booked.appointment_start.astimezone(ZoneInfo("America/Chicago")).date() == day
    shoot(page, "hotline-04-booked")


def test_repair_and_cancel_from_the_card_with_errors_beside_the_fields(
    server,  # noqa: F811
    open_page,  # noqa: F811
    desk,
    api,
    session_factory,
):
    sold = api.sale(phone="+1 217 555 0199", name="Mary Smith", address="12 Elm St")
    order_id = sold["work_orders"][0]["id"]
    page, _watch = open_page("phone")
    sign_in(page, server, "demo-agent")
    page.goto(f"{server}/hotline/customers/{sold['customer_id']}")
    page.get_by_text("Open a repair for this").click()
    page.get_by_role("button", name="Open the repair").click()
    expect(page.get_by_text("Choose what kind of fault it is.")).to_be_visible()
    expect(page.get_by_label("Fault")).to_be_focused()  # the first field to fix, a select
    shoot(page, "hotline-05-repair-errors")
    page.get_by_label("Fault").select_option("leak")
    page.get_by_label("What the customer says").fill("water under the tank")
    with page.expect_navigation():
        page.get_by_role("button", name="Open the repair").click()
    expect(page.get_by_text(re.compile(r"Repair order #\d+ is open"))).to_be_visible()

    page.get_by_text(f"Cancel order #{order_id}…").click()
    form = page.get_by_role("form", name=f"Cancel order #{order_id}")
    form.get_by_label("Why?").fill("returned to the shop")
    with page.expect_navigation():
        form.get_by_role("button", name=f"Cancel order #{order_id}").click()
    expect(page.get_by_text(f"Order #{order_id} is cancelled.")).to_be_visible()
    shoot(page, "hotline-06-card-after")
    with session_factory() as session:
        assert session.get(WorkOrder, order_id).state == "cancelled"
