"""The hotline desk through Flask's test client: the forgiving search, the customer's card, and
each action (phoned-in sale, book, repair, cancel) with its field errors and no double submit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from dispatch.customers import directory
from dispatch.models import Sale, WorkOrder
from tests.web_support import csrf_token, login, set_password
from tests.web_support import form_key as _form_key
from tests.web_support import post_form as _post


@pytest.fixture
def desk(client, api, session_factory, redis_conn, settings):
    """The demo hotline agent, signed in."""
    set_password(session_factory, "demo-agent")
    assert login(client, "demo-agent").headers["Location"] == "/hotline"
    yield client
    for key in redis_conn.scan_iter(f"*{settings['QUEUE_PREFIX']}-login*"):
        redis_conn.delete(key)


def _tomorrow(tz: str = "America/Chicago") -> str:
    return (datetime.now(UTC).astimezone(ZoneInfo(tz)) + timedelta(days=2)).date().isoformat()


# --- the search ------------------------------------------------------------------------------------


def test_lookup_is_forgiving(api, session):
    api.sale(phone="+1 217 555 0199", name="Mary Smith", address="12 Elm St")
    api.sale(phone="+1 217 555 0142", name="John Smithers", address="3 Oak Ave")
    names = lambda text: [f.customer.name for f in directory.lookup(session, text)]  # noqa: E731
    assert names("0199") == ["Mary Smith"]  # four digits anywhere in the number
    assert names("555 01") == ["John Smithers", "Mary Smith"]
    assert names("(217) 555-0142") == ["John Smithers"]
    assert names("019") == []  # fewer than 4 digits find nothing
    assert names("smith mary") == ["Mary Smith"]  # words in any order
    assert names("SPRINGFIELD elm") == ["Mary Smith"]  # the city in any case, with the address
    assert names("smith") == ["John Smithers", "Mary Smith"]
    found = directory.lookup(session, "mary")[0]
    assert found.units == 1 and found.latest_state == "pending"


def test_search_as_you_type_shows_enough_to_pick_the_right_customer(desk, api):
    api.sale(phone="+1 217 555 0199", name="Mary Smith", address="12 Elm St")
    page = desk.get("/hotline").get_data(as_text=True)
    assert 'hx-get="/hotline/search"' in page and "delay:300ms" in page
    html = desk.get("/hotline/search?q=0199", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in html  # a fragment
    assert "Mary Smith" in html and "12 Elm St, Springfield" in html and "1 unit" in html
    assert "0199" in html and "+12175550199" not in html  # masked in the list
    assert "pending (no date yet)" in html
    assert "No customer matches" in desk.get(
        "/hotline/search?q=zzzz", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    # Without htmx (no script): the whole page with the results.
    assert desk.get("/hotline/search?q=0199").headers["Location"] == "/hotline?q=0199"
    assert "Mary Smith" in desk.get("/hotline?q=mary").get_data(as_text=True)


def test_the_desk_is_for_agents_only(client, api, session_factory):
    sold = api.sale()
    customer_id = sold["customer_id"]
    set_password(session_factory, "demo-provider-SPR-HEAT")
    login(client, "demo-provider-SPR-HEAT")
    for path in ("/hotline", "/hotline/search?q=0199", f"/hotline/customers/{customer_id}", "/hotline/sale"):
        assert client.get(path, headers={"HX-Request": "true"}).status_code == 403, path
    token = csrf_token(client, "/home")
    order_id = sold["work_orders"][0]["id"]
    refused = client.post(f"/hotline/orders/{order_id}/cancel", data={"csrf_token": token, "reason": "x"})
    assert refused.status_code == 403


def test_unknown_ids_are_404_and_forms_need_csrf(desk, api, session_factory):
    assert desk.get("/hotline/customers/999999").status_code == 404
    assert (
        desk.post(
            "/hotline/orders/999999/cancel", data={"csrf_token": csrf_token(desk, "/hotline"), "reason": "x"}
        ).status_code
        == 404
    )
    order_id = api.sale()["work_orders"][0]["id"]
    assert desk.post(f"/hotline/orders/{order_id}/cancel", data={"reason": "no token"}).status_code == 400
    with session_factory() as session:
        assert session.get(WorkOrder, order_id).state == "pending"


# --- the card and its actions ---------------------------------------------------------------------


def test_card_shows_units_orders_history_language_and_local_time(desk, api):
    sold = api.sale(name="Mary Smith")
    html = desk.get(f"/hotline/customers/{sold['customer_id']}").get_data(as_text=True)
    assert "Mary Smith" in html and 'href="tel:+12175550199"' in html
    assert "English" in html and "America/Chicago" in html
    assert f"Order #{sold['work_orders'][0]['id']}" in html and "create" in html
    assert "Book a time" in html and "Open a repair" in html and "Cancel order" in html


def test_book_a_pending_order_in_the_customers_time_then_move_it(desk, api, session_factory):
    sold = api.sale()
    card, order_id = f"/hotline/customers/{sold['customer_id']}", sold["work_orders"][0]["id"]
    path = f"/hotline/orders/{order_id}/appointment"
    bad = _post(desk, path, {"day": _tomorrow(), "start": "15:00", "end": "14:00"}, card)
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "must be after start" in html and f'id="o{order_id}-end-error"' in html
    assert 'value="15:00"' in html  # what was typed is kept
    missing = _post(desk, path, {"day": "", "start": "", "end": ""}, card)
    assert missing.status_code == 422 and "Choose the day" in missing.get_data(as_text=True)

    ok = _post(desk, path, {"day": _tomorrow(), "start": "09:00", "end": "12:00"}, card)
    assert ok.status_code == 303 and ok.headers["Location"].endswith(f"#order-{order_id}")
    with session_factory() as session:
        order = session.get(WorkOrder, order_id)
        assert order.state == "booked"
        assert order.appointment_start.astimezone(ZoneInfo("America/Chicago")).strftime("%H:%M") == "09:00"
    page = desk.get(card).get_data(as_text=True)
    assert "is booked for" in page and "Move the appointment" in page
    moved = _post(desk, path, {"day": _tomorrow(), "start": "13:00", "end": "15:00"}, card)
    assert moved.status_code == 303
    with session_factory() as session:
        assert (
            session.get(WorkOrder, order_id).appointment_start.astimezone(ZoneInfo("America/Chicago")).hour
            == 13
        )


def test_a_double_submitted_form_does_nothing_twice(desk, api, session_factory):
    sold = api.sale()
    card, order_id = f"/hotline/customers/{sold['customer_id']}", sold["work_orders"][0]["id"]
    html = desk.get(card).get_data(as_text=True)
    path = f"/hotline/units/{sold['units'][0]['id']}/repair"
    body = {
        "csrf_token": csrf_token(desk, card),
        "form_key": _form_key(html, path),
        "fault_category": "leak",
        "fault_description": "water under the tank",
    }
    first, second = desk.post(path, data=body), desk.post(path, data=body)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    with session_factory() as session:
        repairs = session.scalars(select(WorkOrder).where(WorkOrder.kind == "repair")).all()
        assert len(repairs) == 1 and repairs[0].fault_description == "water under the tank"
    assert order_id != repairs[0].id


def test_repair_errors_are_beside_the_fields_and_a_repeat_is_refused(desk, api):
    sold = api.sale()
    card, unit_id = f"/hotline/customers/{sold['customer_id']}", sold["units"][0]["id"]
    path = f"/hotline/units/{unit_id}/repair"
    bad = _post(desk, path, {"fault_category": "", "fault_description": "drips"}, card)
    html = bad.get_data(as_text=True)
    assert (
        bad.status_code == 422 and f'id="u{unit_id}-fault_category-error"' in html and 'value="drips"' in html
    )
    assert (
        _post(desk, path, {"fault_category": "leak", "fault_description": "drips"}, card).status_code == 303
    )
    again = _post(desk, path, {"fault_category": "leak", "fault_description": "still drips"}, card)
    assert again.status_code == 409 and "for this fault is still open" in again.get_data(as_text=True)
    assert (
        desk.post("/hotline/units/999999/repair", data={"csrf_token": csrf_token(desk, card)}).status_code
        == 404
    )


def test_cancel_needs_a_reason_and_only_an_open_order(desk, api, session_factory):
    sold = api.sale()
    card, order_id = f"/hotline/customers/{sold['customer_id']}", sold["work_orders"][0]["id"]
    path = f"/hotline/orders/{order_id}/cancel"
    empty = _post(desk, path, {"reason": ""}, card)
    assert empty.status_code == 422 and f'id="o{order_id}-reason-error"' in empty.get_data(as_text=True)
    assert _post(desk, path, {"reason": "returned to the shop"}, card).status_code == 303
    with session_factory() as session:
        order = session.get(WorkOrder, order_id)
        assert order.state == "cancelled" and order.cancel_reason == "returned to the shop"
    html = desk.get(card).get_data(as_text=True)
    assert "Cancelled because: “returned to the shop”" in html and f"Cancel order #{order_id}" not in html
    late = desk.post(path, data={"csrf_token": csrf_token(desk, card), "reason": "again"})
    assert late.status_code == 409 and "only an open order can be cancelled" in late.get_data(as_text=True)


# --- a phoned-in sale -------------------------------------------------------------------------------

SALE = {
    "name": "Wei Zhang",
    "phone": "217 555 0177",
    "address": "8 Pine Rd",
    "city": "Springfield",
    "shop": "Main St Appliances",
    "salesperson": "Jo Counter",
    "model": "EW-50",
    "service": "delivery_installation",
}


def test_phoned_in_sale_for_a_new_customer(desk, api, session_factory):
    response = _post(
        desk, "/hotline/sale", {**SALE, "day": _tomorrow(), "start": "10:00", "end": "12:00"}, "/hotline/sale"
    )
    assert response.status_code == 303 and "/hotline/customers/" in response.headers["Location"]
    with session_factory() as session:
        sale = session.scalars(select(Sale)).one()
        assert sale.channel == "phone" and sale.shop == "Main St Appliances"
        order = session.scalars(select(WorkOrder)).one()
        assert order.state == "booked" and order.kind == "delivery_installation"
        assert order.appointment_start.astimezone(ZoneInfo("America/Chicago")).hour == 10
    page = desk.get(response.headers["Location"]).get_data(as_text=True)
    assert "New customer registered" in page and "Wei Zhang" in page


def test_phoned_in_sale_errors_beside_the_fields_keeping_what_was_typed(desk, api, session_factory):
    missing = _post(desk, "/hotline/sale", {**SALE, "shop": "", "model": ""}, "/hotline/sale")
    html = missing.get_data(as_text=True)
    assert missing.status_code == 422 and 'id="shop-error"' in html and 'id="model-error"' in html
    assert 'value="Wei Zhang"' in html and 'value="8 Pine Rd"' in html
    bad_phone = _post(desk, "/hotline/sale", {**SALE, "phone": "12"}, "/hotline/sale")
    html = bad_phone.get_data(as_text=True)
    assert (
        bad_phone.status_code == 422 and 'id="phone-error"' in html and "not" in html and 'value="12"' in html
    )
    past = _post(
        desk,
        "/hotline/sale",
        {**SALE, "day": "2020-01-01", "start": "10:00", "end": "12:00"},
        "/hotline/sale",
    )
    assert past.status_code == 422 and 'id="start-error"' in past.get_data(as_text=True)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Sale)) == 0


def test_sale_for_a_known_customer_is_prefilled_and_lands_on_their_card(desk, api, session_factory):
    sold = api.sale(name="Mary Smith")
    customer_id = sold["customer_id"]
    form = desk.get(f"/hotline/sale?customer={customer_id}").get_data(as_text=True)
    assert 'value="Mary Smith"' in form and 'value="+12175550199"' in form
    data = {
        **SALE,
        "name": "Mary Smith",
        "phone": "+12175550199",
        "address": "12 Elm St",
        "customer_id": str(customer_id),
    }
    response = _post(desk, "/hotline/sale", data, f"/hotline/sale?customer={customer_id}")
    assert response.headers["Location"].startswith(f"/hotline/customers/{customer_id}#order-")
    with session_factory() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(WorkOrder).where(WorkOrder.customer_id == customer_id)
            )
            == 2
        )
