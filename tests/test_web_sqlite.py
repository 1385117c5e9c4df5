"""The pages on the embedded default, SQLite (what `scripts/run` starts): a form saves at once.

On SQLite every transaction takes the write lock when it starts (BEGIN IMMEDIATE). A page reads
(the signed-in person, the order) before it claims the form's one-time key in a transaction of
its own; if its reading transaction were still open, the claim would wait on its own request
for the busy timeout (30 s) and answer 503, saving nothing. Found by running the README's tour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from dispatch.app import create_app
from dispatch.audit.trail import make_session_factory
from dispatch.models import Visit, WorkOrder
from dispatch.platform import migrate
from dispatch.platform.db import make_engine
from dispatch.reference import demo
from tests.helpers import future_window, sale_body
from tests.web_support import login, post_form, set_password


@pytest.fixture
def sqlite_app(tmp_path: Path, settings):
    url = f"sqlite:///{tmp_path / 'dispatch.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session:
        tokens = demo.seed(session)
        session.commit()
    set_password(factory, "demo-provider-SPR-HEAT")
    set_password(factory, "demo-agent")
    app = create_app({**settings, "DATABASE_URL": url})
    app.config["TESTING"] = True
    yield app, tokens, factory
    app.extensions["dispatch.engine"].dispose()
    engine.dispose()


def _sale(client, tokens, **extra) -> int:
    body = {**sale_body(phone="+1 217 555 0177"), **extra}
    response = client.post(
        "/api/v1/sales", json=body, headers={"Authorization": f"Bearer {tokens['demo-sales']}"}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["work_orders"][0]["id"]


def test_a_provider_closes_an_order_on_the_page_at_once_on_sqlite(sqlite_app):
    app, tokens, factory = sqlite_app
    client = app.test_client()
    order_id = _sale(client, tokens, appointment=future_window(days=1))
    assert login(client, "demo-provider-SPR-HEAT").status_code == 303
    visited = (datetime.now(UTC) - timedelta(hours=1)).astimezone(ZoneInfo("America/Chicago"))
    started = datetime.now(UTC)
    response = post_form(
        client,
        f"/portal/orders/{order_id}/close",
        {
            "outcome": "completed",
            "installer_id": "1",
            "visited_at": visited.strftime("%Y-%m-%dT%H:%M"),
            "note": "installed",
        },
        f"/portal/orders/{order_id}",
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    assert datetime.now(UTC) - started < timedelta(seconds=10)  # not the 30 s busy timeout
    with factory() as session:
        assert session.get(WorkOrder, order_id).state == "closed_completed"
        assert len(session.scalars(select(Visit)).all()) == 1


def test_an_agent_books_a_pending_order_on_the_page_on_sqlite(sqlite_app):
    app, tokens, factory = sqlite_app
    client = app.test_client()
    order_id = _sale(client, tokens)
    with factory() as session:
        customer_id = session.get(WorkOrder, order_id).customer_id
    assert login(client, "demo-agent").status_code == 303
    window = future_window(days=3)
    start = datetime.fromisoformat(window["start"]).astimezone(ZoneInfo("America/Chicago"))
    response = post_form(
        client,
        f"/hotline/orders/{order_id}/appointment",
        {
            "day": start.strftime("%Y-%m-%d"),
            "start": start.strftime("%H:%M"),
            "end": (start + timedelta(hours=2)).strftime("%H:%M"),
        },
        f"/hotline/customers/{customer_id}",
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    with factory() as session:
        assert session.get(WorkOrder, order_id).state == "booked"
