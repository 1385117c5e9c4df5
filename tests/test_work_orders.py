"""The providers' work list and order detail, closing a visit, cancelling and assigning orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dispatch.models import AuditEvent, Visit, WorkOrder
from tests.helpers import future_window

# Demo installers by id: 1, 2 = SPR-HEAT; 3 = SPR-QUICK; 4, 5 = RIV-PRO; 6 = LAKE-SVC; 7 = SOLAR-SPEC.
SPR_HEAT_INSTALLER, SPR_QUICK_INSTALLER, RIV_PRO_INSTALLER = 1, 3, 4


def _order(api, **kw) -> dict:
    return api.sale(**kw)["work_orders"][0]


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [o["id"] for o in response.get_json()["items"]]


def _events(session, order_id: int) -> list[tuple]:
    session.expire_all()
    return [
        (e.action, e.from_state, e.to_state)
        for e in session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "work_order", AuditEvent.entity_id == order_id)
            .order_by(AuditEvent.seq)
        )
    ]


def _local_window(day: int, hour: int) -> dict[str, str]:
    year = datetime.now(UTC).year + 1
    start = datetime(year, 1, day, hour)
    return {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}


# --- provider isolation ---------------------------------------------------------------------------


def test_a_provider_lists_only_its_own_orders(api):
    heat = _order(api, model="EW-50", phone="+1 217 555 0101")
    quick = _order(api, model="WS-10", phone="+1 217 555 0102")
    riv = _order(api, city="Riverton", phone="+1 303 555 0103")
    assert _ids(api.get("/api/v1/work-orders", "provider:SPR-HEAT")) == [heat["id"]]
    assert _ids(api.get("/api/v1/work-orders", "provider:SPR-QUICK")) == [quick["id"]]
    assert _ids(api.get("/api/v1/work-orders", "provider:RIV-PRO")) == [riv["id"]]
    # Asking for another provider's orders by filter does not widen the view.
    other = api.get("/api/v1/work-orders?provider_id=2", "provider:SPR-HEAT").get_json()
    assert other["total"] == 0
    assert sorted(_ids(api.get("/api/v1/work-orders", "supervisor"))) == sorted(
        [heat["id"], quick["id"], riv["id"]]
    )


def test_another_providers_order_is_404_to_read_and_to_close_and_stays_untouched(api, session):
    order = _order(api, model="EW-50")
    assert api.get(f"/api/v1/work-orders/{order['id']}", "provider:SPR-QUICK").status_code == 404
    response = api.close(order["id"], "SPR-QUICK", SPR_QUICK_INSTALLER)
    assert response.status_code == 404
    assert response.get_json()["message"] == f"work order {order['id']} not found"
    assert api.get(f"/api/v1/work-orders/{order['id']}", "provider:SPR-HEAT").get_json()["state"] == "pending"
    assert session.scalar(select(func.count()).select_from(Visit)) == 0


def test_detail_shows_customer_unit_visits_and_history(api):
    order = _order(api, appointment=future_window(), serial="DET-1")
    detail = api.get(f"/api/v1/work-orders/{order['id']}", "provider:SPR-HEAT").get_json()
    assert detail["customer"]["phone"] == "+12175550199"
    assert detail["unit"]["serial_number"] == "DET-1"
    assert (detail["city"], detail["product_line"], detail["kind"]) == (
        "Springfield",
        "electric_wh",
        "delivery_installation",
    )
    assert detail["visits"] == []
    assert [(e["action"], e["to_state"]) for e in detail["history"]] == [("create", "booked")]
    assert detail["history"][0]["actor"].startswith("user:")


# --- filters and paging -------------------------------------------------------------------------


def test_filter_by_state_kind_and_city(api):
    booked = _order(api, appointment=future_window(), phone="+1 217 555 0121")
    pending = _order(api, delivery=True, installation=False, phone="+1 217 555 0122")
    riverton = _order(api, city="Riverton", phone="+1 303 555 0123")
    get = lambda q: sorted(_ids(api.get("/api/v1/work-orders?" + q, "supervisor")))  # noqa: E731
    assert get("state=booked") == [booked["id"]]
    assert get("state=pending") == sorted([pending["id"], riverton["id"]])
    assert get("kind=delivery") == [pending["id"]]
    assert get("city=Riverton") == [riverton["id"]]
    assert get("city=Riverton&state=booked") == []
    assert get("city=Atlantis") == []
    bad = api.get("/api/v1/work-orders?state=lost&kind=nothing", "supervisor")
    assert bad.status_code == 422 and {"state", "kind"} <= set(bad.get_json()["errors"])


def test_a_date_range_of_days_is_read_in_each_orders_city(api):
    # 22:00 local on the 14th in Springfield is already the 15th in UTC: it still belongs to the 14th.
    late = _order(api, appointment=_local_window(14, 22), phone="+1 217 555 0131")
    on_15 = _order(api, appointment=_local_window(15, 9), phone="+1 217 555 0132")
    riv_on_15 = _order(api, city="Riverton", appointment=_local_window(15, 10), phone="+1 303 555 0133")
    on_16 = _order(api, appointment=_local_window(16, 0), phone="+1 217 555 0134")
    year = datetime.now(UTC).year + 1
    day = lambda d: f"{year}-01-{d}"  # noqa: E731
    get = lambda q: sorted(_ids(api.get("/api/v1/work-orders?" + q, "supervisor")))  # noqa: E731
    assert get(f"date_from={day(15)}&date_to={day(15)}") == sorted([on_15["id"], riv_on_15["id"]])
    assert get(f"date_from={day(14)}&date_to={day(14)}") == [late["id"]]
    assert get(f"date_from={day(16)}") == [on_16["id"]]
    assert get(f"date_to={day(14)}") == [late["id"]]
    # A time with an offset is exact; one without is the wall clock of each city.
    assert get(f"date_from={day(15)}T14:00:00%2B00:00&date_to={day(15)}T15:30:00%2B00:00") == [on_15["id"]]
    assert get(f"date_from={day(15)}T10:00:00&date_to={day(15)}T10:30:00") == [riv_on_15["id"]]
    bad = api.get("/api/v1/work-orders?date_from=tomorrow", "supervisor")
    assert bad.status_code == 422 and "date_from" in bad.get_json()["errors"]


def test_paging_gives_totals_and_pages_in_appointment_order(api):
    made = [
        _order(api, appointment=future_window(days=d + 1), phone=f"+1 217 555 01{40 + d}")["id"]
        for d in range(5)
    ]
    pending = _order(api, phone="+1 217 555 0149")["id"]
    pages = [
        api.get(f"/api/v1/work-orders?per_page=2&page={p}", "supervisor").get_json() for p in (1, 2, 3, 4)
    ]
    assert [p["total"] for p in pages] == [6, 6, 6, 6]
    assert [[o["id"] for o in p["items"]] for p in pages] == [made[:2], made[2:4], [made[4], pending], []]
    assert (pages[1]["page"], pages[1]["per_page"]) == (2, 2)
    for bad in ("page=0", "per_page=0", "per_page=201", "page=x"):
        response = api.get("/api/v1/work-orders?" + bad, "supervisor")
        assert response.status_code == 422, bad
        assert bad.split("=")[0] in response.get_json()["errors"]


# --- closing ------------------------------------------------------------------------------------


def test_close_completed_records_the_visit_and_the_transition(api, session):
    order = _order(api, appointment=future_window())
    response = api.close(order["id"], "SPR-HEAT", SPR_HEAT_INSTALLER, note="all good")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["state"] == "closed_completed"
    assert [(v["outcome"], v["reason"], v["installer_id"], v["note"]) for v in body["visits"]] == [
        ("completed", None, SPR_HEAT_INSTALLER, "all good")
    ]
    assert _events(session, order["id"])[-1] == ("close", "booked", "closed_completed")


@pytest.mark.parametrize(
    "reason",
    [
        "customer_not_home",
        "customer_rescheduled",
        "parts_missing",
        "site_not_ready",
        "customer_refused",
        "other",
    ],
)
def test_close_not_completed_with_each_reason_of_the_list(api, reason):
    order = _order(api)
    response = api.close(order["id"], "SPR-HEAT", 2, outcome="not_completed", reason=reason)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "closed_not_completed"
    assert response.get_json()["visits"][0]["reason"] == reason


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [("not_completed", None), ("completed", "parts_missing"), ("not_completed", "dog_ate_it")],
)
def test_reason_must_match_the_outcome(api, session, outcome, reason):
    order = _order(api)
    response = api.close(order["id"], "SPR-HEAT", SPR_HEAT_INSTALLER, outcome=outcome, reason=reason)
    assert response.status_code == 422 and "reason" in response.get_json()["errors"]
    assert _events(session, order["id"]) == [("create", None, "pending")]


def test_the_installer_must_be_an_active_installer_of_the_orders_provider(api):
    order = _order(api)
    for installer in (SPR_QUICK_INSTALLER, RIV_PRO_INSTALLER, 999):
        response = api.close(order["id"], "SPR-HEAT", installer)
        assert response.status_code == 422 and list(response.get_json()["errors"]) == ["installer_id"]
    deactivate = api.post(
        "/api/v1/installers",
        "admin",
        {
            "code": "SH-01",
            "name": "Ana Ortiz",
            "provider": "SPR-HEAT",
            "seniority": "senior",
            "active": False,
        },
    )
    assert deactivate.status_code == 201 and deactivate.get_json()["active"] is False
    assert api.close(order["id"], "SPR-HEAT", SPR_HEAT_INSTALLER).status_code == 422
    assert api.close(order["id"], "SPR-HEAT", 2).status_code == 200


def test_a_visit_in_the_future_or_without_a_time_zone_is_refused(api):
    order = _order(api)
    path = f"/api/v1/work-orders/{order['id']}/close"
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    naive = (datetime.now(UTC) - timedelta(hours=2)).replace(tzinfo=None).isoformat()
    for visited_at in (future, naive, "yesterday"):
        body = {"outcome": "completed", "installer_id": SPR_HEAT_INSTALLER, "visited_at": visited_at}
        response = api.post(path, "provider:SPR-HEAT", body)
        assert response.status_code == 422 and list(response.get_json()["errors"]) == ["visited_at"], (
            visited_at
        )


def test_closing_twice_is_409_and_changes_nothing(api, session):
    order = _order(api)
    assert api.close(order["id"], "SPR-HEAT", 1).status_code == 200
    before = (_events(session, order["id"]), session.scalar(select(func.count()).select_from(Visit)))
    again = api.close(order["id"], "SPR-HEAT", 2, outcome="not_completed", reason="customer_not_home")
    assert again.status_code == 409 and "closed_completed" in again.get_json()["message"]
    assert (_events(session, order["id"]), session.scalar(select(func.count()).select_from(Visit))) == before
    assert session.get(WorkOrder, order["id"]).state == "closed_completed"


def test_only_a_provider_closes(api):
    order = _order(api)
    for who in ("agent", "supervisor", "sales"):
        path = f"/api/v1/work-orders/{order['id']}/close"
        body = {"outcome": "completed", "installer_id": 1, "visited_at": datetime.now(UTC).isoformat()}
        assert api.post(path, who, body).status_code == 403


# --- cancelling and assigning ------------------------------------------------------------------


def test_an_agent_cancels_an_open_order_with_a_reason(api, session):
    order = _order(api, appointment=future_window())
    response = api.post(f"/api/v1/work-orders/{order['id']}/cancel", "agent", {"reason": "returned to shop"})
    assert response.status_code == 200 and response.get_json()["state"] == "cancelled"
    assert _events(session, order["id"])[-1] == ("cancel", "booked", "cancelled")
    again = api.post(f"/api/v1/work-orders/{order['id']}/cancel", "supervisor", {"reason": "twice"})
    assert again.status_code == 409
    # A cancelled order cannot be closed or booked any more.
    assert api.close(order["id"], "SPR-HEAT", 1).status_code == 409
    book = api.put(f"/api/v1/work-orders/{order['id']}/appointment", "agent", {"window": future_window()})
    assert book.status_code == 409
    assert len(_events(session, order["id"])) == 2


def test_a_closed_order_cannot_be_cancelled_and_a_reason_is_required(api):
    order = _order(api)
    assert api.post(f"/api/v1/work-orders/{order['id']}/cancel", "agent", {}).status_code == 422
    assert api.close(order["id"], "SPR-HEAT", 1).status_code == 200
    assert api.post(f"/api/v1/work-orders/{order['id']}/cancel", "agent", {"reason": "x"}).status_code == 409
    for who in ("provider:SPR-HEAT", "sales", "callback"):
        assert api.post(f"/api/v1/work-orders/{order['id']}/cancel", who, {"reason": "x"}).status_code == 403


def test_a_supervisor_assigns_an_unassigned_order_to_a_named_provider(api, session):
    order = _order(api, city="Bayview", appointment=future_window())
    assert order["state"] == "unassigned"
    assert (
        api.post(f"/api/v1/work-orders/{order['id']}/assign", "supervisor", {"provider": "NOPE"}).status_code
        == 422
    )
    response = api.post(f"/api/v1/work-orders/{order['id']}/assign", "supervisor", {"provider": "LAKE-SVC"})
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["state"], response.get_json()["provider"]["code"]) == ("booked", "LAKE-SVC")
    assert _ids(api.get("/api/v1/work-orders", "provider:LAKE-SVC")) == [order["id"]]
    assert _events(session, order["id"])[-1] == ("assign", "unassigned", "booked")
    again = api.post(f"/api/v1/work-orders/{order['id']}/assign", "supervisor", {"provider": "RIV-PRO"})
    assert again.status_code == 409


def test_assigning_without_a_name_routes_by_the_coverage_of_now(api):
    order = _order(api, city="Bayview")
    path = f"/api/v1/work-orders/{order['id']}/assign"
    nobody = api.post(path, "supervisor", {})
    assert nobody.status_code == 422 and "provider" in nobody.get_json()["errors"]
    cover = {"provider": "LAKE-SVC", "city": "Bayview", "product_line": "electric_wh"}
    assert api.post("/api/v1/coverage", "admin", cover).status_code == 201
    response = api.post(path, "supervisor", {})
    assert (response.get_json()["state"], response.get_json()["provider"]["code"]) == ("pending", "LAKE-SVC")
    assert api.post(path, "agent", {}).status_code == 403
