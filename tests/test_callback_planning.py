"""Planning verification callbacks: at closing, timing in calling hours, status checks, the sweep."""

from __future__ import annotations

from sqlalchemy import select

from dispatch.models import Callback, OutboxMessage


def test_closing_plans_a_callback_and_its_job_request_together(api):
    order = api.sale()["work_orders"][0]
    assert (
        api.close(order["id"], "SPR-HEAT", 1, outcome="not_completed", reason="customer_not_home").status_code
        == 200
    )
    with api.client.application.extensions["dispatch.sessions"]() as s:
        cb = s.scalars(select(Callback)).one()
        assert cb.claim == "customer_not_home" and cb.state == "scheduled"
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.job == "place_callback_attempt")).all()
        assert [r.payload for r in rows] == [{"callback_id": cb.id, "channel": "voice"}]
