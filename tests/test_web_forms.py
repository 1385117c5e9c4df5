"""The pages' forms as a person meets them: the portal's close form asks for a reason only when
the job was not completed and is held to the API's limit on closings; complaint pages speak in
words, never in codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from dispatch.models import Visit, WorkOrder
from tests.callbacks_support import ALL_DAY
from tests.test_web_portal import complaint_against
from tests.web_support import csrf_token, login, set_password

APP_SETTINGS = {**ALL_DAY, "RATE_LIMIT_CLOSE": "2/minute"}
SPR = "demo-provider-SPR-HEAT"
CODES = ("customer_not_home", "nobody_came", "not_done", "contradicted_claim")


@pytest.fixture(autouse=True)
def _fresh_counts(app, redis_conn):
    def clear():
        for pattern in ("-login", "-ratelimit"):
            for key in redis_conn.scan_iter(f"*{app.config['QUEUE_PREFIX']}{pattern}*"):
                redis_conn.delete(key)

    clear()
    yield
    clear()


def _signed_in(client, session_factory, name: str):
    set_password(session_factory, name)
    assert login(client, name).status_code == 303
    return client


def _close_form(client, order_id: int, **fields: str) -> dict[str, str]:
    page = client.get(f"/portal/orders/{order_id}").get_data(as_text=True)
    visited = (datetime.now(UTC) - timedelta(hours=1)).astimezone(ZoneInfo("America/Chicago"))
    return {
        "csrf_token": csrf_token(client, "/portal"),
        "form_key": re.search(r'name="form_key" value="([^"]+)"', page).group(1),
        "outcome": "completed",
        "reason": "",
        "installer_id": "1",
        "visited_at": visited.strftime("%Y-%m-%dT%H:%M"),
        "note": "",
        **fields,
    }


def test_the_reason_follows_the_outcome_with_its_message_beside_the_field(client, api, session_factory):
    order = api.sale()["work_orders"][0]
    _signed_in(client, session_factory, SPR)
    page = client.get(f"/portal/orders/{order['id']}").get_data(as_text=True)
    assert 'data-shown-for="outcome=not_completed"' in page  # shown only for "not completed"
    assert "Choose the reason…" in page and "(completed: no reason)" not in page
    url = f"/portal/orders/{order['id']}/close"
    wrong = client.post(url, data=_close_form(client, order["id"], reason="parts_missing", note="All fitted"))
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and 'id="reason-error"' in html
    assert "A completed job has no reason" in html and "All fitted" in html
    missing = client.post(url, data=_close_form(client, order["id"], outcome="not_completed"))
    assert missing.status_code == 422 and "Choose why the job was not completed." in missing.get_data(
        as_text=True
    )
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Visit)) == 0
    done = client.post(
        url, data=_close_form(client, order["id"], outcome="not_completed", reason="parts_missing")
    )
    assert done.status_code == 303
    assert "not completed, parts were missing" in client.get(done.headers["Location"]).get_data(as_text=True)


def test_closing_on_the_page_counts_against_the_apis_limit_and_says_when_to_retry(
    client, api, session_factory
):
    orders = [api.sale(phone=f"+1 217 555 01{n:02d}")["work_orders"][0]["id"] for n in range(3)]
    assert api.close(orders[0], "SPR-HEAT", 1).status_code == 200  # 1 of 2 this minute
    _signed_in(client, session_factory, SPR)
    assert (
        client.post(f"/portal/orders/{orders[1]}/close", data=_close_form(client, orders[1])).status_code
        == 303
    )
    refused = client.post(
        f"/portal/orders/{orders[2]}/close", data=_close_form(client, orders[2], note="Fitted and tested")
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert "Nothing was saved" in html and "2 per 1 minute" in html and "Fitted and tested" in html
    assert re.search(r"again in \d+ s", html)
    with session_factory() as session:
        assert session.get(WorkOrder, orders[2]).state in ("pending", "booked")
    assert api.close(orders[2], "SPR-HEAT", 1).status_code == 429  # one count for both


def test_complaint_pages_say_the_claim_and_the_answer_in_words(client, api, session_factory, cfg):
    order_id, complaint_id = complaint_against(api, session_factory, cfg)
    pages = {}
    _signed_in(client, session_factory, "demo-supervisor")
    pages["supervisor list"] = client.get("/supervise/complaints").get_data(as_text=True)
    pages["supervisor detail"] = client.get(f"/supervise/complaints/{complaint_id}").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/supervise/complaints")})
    _signed_in(client, session_factory, SPR)
    pages["portal list"] = client.get("/portal/complaints").get_data(as_text=True)
    pages["portal detail"] = client.get(f"/portal/complaints/{complaint_id}").get_data(as_text=True)
    for name, html in pages.items():
        assert f"Order #{order_id}" in html or f"#{order_id}" in html, name
        assert "the customer was not at home" in html and "The customer said nobody came" in html, name
        assert not [code for code in CODES if code in html], (name, [c for c in CODES if c in html])
