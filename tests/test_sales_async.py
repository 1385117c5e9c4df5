"""Sales accepted with `Prefer: respond-async`: checked and kept at once (202), registered later."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from dispatch import auth
from dispatch.models import AuditEvent, Customer, Sale, SaleReceipt, User, WorkOrder
from dispatch.platform.actors import Actor
from dispatch.sales import receipts
from tests.helpers import future_window, sale_body

ASYNC = {"Prefer": "respond-async"}


def post_async(api, body, who="sales", key=None, prefer="respond-async"):
    headers = api.headers(who, Prefer=prefer, **({"Idempotency-Key": key} if key else {}))
    return api.client.post("/api/v1/sales", json=body, headers=headers)


def register(session_factory) -> receipts.RegisterReport:
    """What the worker's `register_sales` job does each second, run here once."""
    with session_factory() as session:
        report = receipts.register_waiting(session, batch=100, region="US")
        session.commit()
    return report


def count(session_factory, model) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_sale_is_accepted_at_once_and_registered_by_the_worker(api, session_factory):
    response = post_async(api, sale_body(appointment=future_window(), serial="ASYNC-1"))

    assert response.status_code == 202, response.get_json()
    receipt = response.get_json()
    assert receipt["status"] == "accepted" and receipt["sale"] is None
    assert response.headers["Location"] == f"/api/v1/sale-receipts/{receipt['id']}"
    assert response.headers["Preference-Applied"] == "respond-async"
    assert count(session_factory, Sale) == 0 and count(session_factory, WorkOrder) == 0
    assert api.get(response.headers["Location"], "sales").get_json()["status"] == "accepted"

    assert register(session_factory).registered == 1

    shown = api.get(response.headers["Location"], "sales").get_json()
    assert shown["status"] == "registered" and shown["errors"] is None
    sale = shown["sale"]
    assert sale["id"] == shown["sale_id"] and sale["customer_created"] is True
    assert [u["serial_number"] for u in sale["units"]] == ["ASYNC-1"]
    assert [(o["kind"], o["state"], o["provider"]["code"]) for o in sale["work_orders"]] == [
        ("delivery_installation", "booked", "SPR-HEAT")
    ]
    with session_factory() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "sale", AuditEvent.action == "reported")
        ).one()
        assert event.data["receipt_id"] == receipt["id"]
        assert event.actor.startswith("user:") and "demo-sales" in event.actor  # the reporter, not "system"
    # Registered once: a second pass finds nothing to do.
    assert register(session_factory).taken == 0


def test_prefer_is_read_as_rfc_7240_says(api):
    assert post_async(api, sale_body(), prefer="wait=5, RESPOND-ASYNC").status_code == 202
    assert post_async(api, sale_body(), prefer="handling=lenient").status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["customer"].update(city="Atlantis"), "customer.city"),
        (lambda b: b["customer"].update(phone="12"), "customer.phone"),
        (lambda b: b["items"][0].update(model="NOPE-1"), "items.0.model"),
        (lambda b: b["items"][0].update(product_line="gas_wh"), "items.0.product_line"),
        (lambda b: b.update(sold_at="2999-01-01T00:00:00+00:00"), "sold_at"),
        (
            lambda b: b.update(appointment={"start": "2020-01-01T09:00:00", "end": "2020-01-01T11:00:00"}),
            "appointment.start",
        ),
        (lambda b: b.update(items=[b["items"][0], dict(b["items"][0])]), "items.1.serial_number"),
        (lambda b: b.pop("shop"), "shop"),
    ],
)
def test_a_bad_sale_is_refused_at_once_naming_the_field_and_nothing_is_kept(
    api, session_factory, change, field
):
    body = sale_body()
    change(body)

    response = post_async(api, body)

    assert response.status_code == 422, response.get_json()
    assert field in str(response.get_json()["errors"])
    assert count(session_factory, SaleReceipt) == 0


def test_a_city_in_another_letter_case_is_accepted_and_registered(api, session_factory):
    response = post_async(api, sale_body(city="springfield", serial="ASYNC-CASE"))
    assert response.status_code == 202, response.get_json()
    assert register(session_factory).registered == 1
    with session_factory() as session:
        assert session.scalars(select(Customer)).one().city.name == "Springfield"


def test_a_serial_number_already_registered_is_refused_at_once(api, session_factory):
    api.sale(serial="TAKEN-1")
    response = post_async(api, sale_body(serial="TAKEN-1"))
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"items.0.serial_number": ["is already registered"]}
    assert count(session_factory, SaleReceipt) == 0


def test_a_retry_with_the_same_key_replays_the_receipt_even_after_registration(api, session_factory):
    body = sale_body(serial="KEYED-1")
    first = post_async(api, body, key="shop-42-sale-7")
    again = post_async(api, body, key="shop-42-sale-7")
    assert first.status_code == again.status_code == 202
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(session_factory, SaleReceipt) == 1

    register(session_factory)
    # The serial is registered now, yet the retry is the same request: replayed, not refused.
    late = post_async(api, body, key="shop-42-sale-7")
    assert late.status_code == 202 and late.get_json()["status"] == "registered"
    assert count(session_factory, Sale) == 1

    other = post_async(api, sale_body(), key="shop-42-sale-7")
    assert other.status_code == 422
    assert "Idempotency-Key" in other.get_json()["errors"]
    assert count(session_factory, SaleReceipt) == 1


def test_a_retry_that_drops_or_adds_the_preference_still_creates_nothing_twice(api, session_factory):
    # A shop system that posted with `Prefer: respond-async`, timed out, and retries without it
    # (or the other way round) gets the first answer back: one sale, never two.
    body = sale_body(serial="KEYED-2")
    first = post_async(api, body, key="pos-9-sale-1")
    assert first.status_code == 202
    register(session_factory)
    for _ in range(2):  # the second retry is replayed from the key's own record
        retry = api.client.post(
            "/api/v1/sales", json=body, headers=api.headers("sales", **{"Idempotency-Key": "pos-9-sale-1"})
        )
        assert retry.status_code == 202, retry.get_json()
        assert retry.get_json()["id"] == first.get_json()["id"]
        assert retry.headers["Idempotent-Replayed"] == "true"
    assert (count(session_factory, SaleReceipt), count(session_factory, Sale)) == (1, 1)

    body = sale_body(serial="KEYED-3")
    sync = api.client.post(
        "/api/v1/sales", json=body, headers=api.headers("sales", **{"Idempotency-Key": "pos-9-sale-2"})
    )
    assert sync.status_code == 201
    retry = post_async(api, body, key="pos-9-sale-2")
    assert retry.status_code == 201 and retry.get_json() == sync.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert (count(session_factory, SaleReceipt), count(session_factory, Sale)) == (1, 2)

    # The same key with another sale is refused in either mode, and nothing is kept.
    other = post_async(api, sale_body(serial="KEYED-4"), key="pos-9-sale-2")
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["errors"]
    other = post_async(api, sale_body(serial="KEYED-4"), key="pos-9-sale-1", prefer="")  # no preference
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["errors"]
    assert (count(session_factory, SaleReceipt), count(session_factory, Sale)) == (1, 2)


def test_a_sale_that_can_no_longer_be_registered_is_rejected_with_the_field(api, session_factory):
    # Two shops report the same serial number before either is registered: both are accepted
    # (neither is registered yet), the second is rejected when its turn comes.
    first = post_async(api, sale_body(serial="DUP-9")).get_json()
    second = post_async(api, sale_body(serial="DUP-9", phone="+1 217 555 0123")).get_json()

    report = register(session_factory)

    assert (report.registered, report.rejected) == (1, 1)
    assert api.get(f"/api/v1/sale-receipts/{first['id']}", "sales").get_json()["status"] == "registered"
    rejected = api.get(f"/api/v1/sale-receipts/{second['id']}", "sales").get_json()
    assert rejected["status"] == "rejected" and rejected["sale"] is None
    assert rejected["errors"] == {"items.0.serial_number": ["is already registered"]}
    listed = api.get("/api/v1/sale-receipts?status=rejected", "supervisor").get_json()
    assert [r["id"] for r in listed["items"]] == [second["id"]] and listed["total"] == 1
    with session_factory() as session:
        assert (
            session.scalar(
                select(func.count()).where(
                    AuditEvent.entity == "sale_receipt", AuditEvent.action == "rejected"
                )
            )
            == 1
        )
    assert count(session_factory, Sale) == 1


def test_a_receipt_that_fails_unexpectedly_does_not_hold_up_the_others(api, session_factory):
    broken = post_async(api, sale_body()).get_json()["id"]
    fine = post_async(api, sale_body(phone="+1 217 555 0124")).get_json()["id"]
    with session_factory() as session:  # a payload the registration cannot read (a bug, say)
        session.execute(update(SaleReceipt).where(SaleReceipt.id == broken).values(payload={"shop": "x"}))
        session.commit()

    report = register(session_factory)

    assert (report.registered, report.failed) == (1, 1)
    with session_factory() as session:
        kept = session.get(SaleReceipt, broken)
        assert kept.status == "accepted" and kept.attempts == 1 and "KeyError" in kept.last_error
        assert session.get(SaleReceipt, fine).status == "registered"
    # Retried on later passes, then left for an operator instead of being retried forever.
    for _ in range(receipts.MAX_ATTEMPTS + 2):
        register(session_factory)
    with session_factory() as session:
        assert session.get(SaleReceipt, broken).attempts == receipts.MAX_ATTEMPTS
        assert receipts.waiting(session)["waiting"] == 1


def test_sales_staff_see_only_their_own_receipts(api, session_factory):
    mine = post_async(api, sale_body()).get_json()["id"]
    with session_factory() as session:
        other = auth.create_user(session, Actor.system("test"), name="other-shop", role="sales")
        token = auth.issue_token(session, Actor.system("test"), other)
        session.commit()
    headers = {"Authorization": f"Bearer {token}"}

    assert api.client.get(f"/api/v1/sale-receipts/{mine}", headers=headers).status_code == 404
    assert api.client.get("/api/v1/sale-receipts", headers=headers).get_json()["total"] == 0
    assert api.get(f"/api/v1/sale-receipts/{mine}", "agent").status_code == 200
    assert api.get("/api/v1/sale-receipts", "sales").get_json()["total"] == 1


def test_a_city_added_a_moment_ago_is_known_to_the_async_check(api, session_factory):
    assert post_async(api, sale_body()).status_code == 202  # the catalogue is now cached
    added = api.post("/api/v1/cities", "admin", {"name": "Newtown", "timezone": "America/Chicago"})
    assert added.status_code == 201, added.get_json()

    body = sale_body()
    body["customer"]["city"] = "Newtown"
    assert post_async(api, body).status_code == 202


def test_an_agent_keying_in_a_phoned_sale_is_recorded_as_phone(api, session_factory):
    post_async(api, sale_body(), who="agent")
    register(session_factory)
    with session_factory() as session:
        sale = session.scalars(select(Sale)).one()
        assert sale.channel == "phone"
        assert session.get(User, sale.reported_by_id).name == "demo-agent"


def test_a_registration_that_dies_before_its_commit_loses_nothing_and_runs_once_later(api, session_factory):
    post_async(api, sale_body(serial="CRASH-1"))
    with session_factory() as session:  # the worker dies before committing its batch
        assert receipts.register_waiting(session, batch=100, region="US").registered == 1
        session.rollback()
    with session_factory() as session:
        assert session.scalars(select(SaleReceipt.status)).all() == ["accepted"]

    assert register(session_factory).registered == 1
    assert count(session_factory, Sale) == 1 and count(session_factory, WorkOrder) == 1


def test_two_workers_registering_at_once_never_take_the_same_receipt(api, session_factory):
    for n in range(3):
        post_async(api, sale_body(phone=f"+1 217 555 013{n}"))
    first = session_factory()
    try:  # the first worker holds its batch (rows locked, not yet committed)
        assert receipts.register_waiting(first, batch=2, region="US").registered == 2
        second = register(session_factory)  # SKIP LOCKED: only the receipt nobody holds
        assert (second.taken, second.registered) == (1, 1)
        first.commit()
    finally:
        first.close()
    assert register(session_factory).taken == 0
    assert count(session_factory, Sale) == 3 and count(session_factory, WorkOrder) == 3


@pytest.mark.parametrize(
    "layout",
    [
        "ok ok reject",  # a rejected receipt at the end of the batch
        "ok reject ok",  # ... in the middle
        "ok ok fail",  # a receipt that fails unexpectedly at the end
        "ok fail ok ok",  # ... in the middle
        "reject ok fail ok reject",  # several, first, middle and last
    ],
)
def test_every_sale_registered_in_a_batch_keeps_its_audit_events_whatever_fails_beside_it(
    api, session_factory, layout
):
    # A receipt rejected or failing rolls back its own savepoint; that rollback once dropped the
    # queued events of every sale registered before it in the batch: sales and orders with no
    # `sale reported` and no `work_order create`, a gap `dispatch audit verify` cannot see.
    taken = api.sale(serial="TAKEN-IN-BATCH")  # registered already, so a receipt naming it is rejected
    receipts: dict[int, str] = {}
    for n, kind in enumerate(layout.split()):
        serial = "TAKEN-IN-BATCH" if kind == "reject" else f"BATCH-{n}"
        response = post_async(api, sale_body(serial=f"BATCH-{n}", phone=f"+1 217 555 02{n:02d}"))
        assert response.status_code == 202, response.get_json()
        receipts[response.get_json()["id"]] = kind
        with session_factory() as session:  # made bad after acceptance, as a later change would
            receipt = session.get(SaleReceipt, response.get_json()["id"])
            if kind == "reject":
                receipt.payload = {
                    **receipt.payload,
                    "items": [{**receipt.payload["items"][0], "serial_number": serial}],
                }
            elif kind == "fail":
                receipt.payload = {"shop": "x"}  # unreadable: an unexpected error, not a rejection
            session.commit()

    report = register(session_factory)

    kinds = list(receipts.values())
    assert (report.registered, report.rejected, report.failed) == (
        kinds.count("ok"),
        kinds.count("reject"),
        kinds.count("fail"),
    )
    with session_factory() as session:
        for receipt_id, kind in receipts.items():
            receipt = session.get(SaleReceipt, receipt_id)
            assert receipt.status == {"ok": "registered", "reject": "rejected", "fail": "accepted"}[kind]
        sale_ids = set(session.scalars(select(Sale.id)))
        order_ids = set(session.scalars(select(WorkOrder.id)))
        assert len(sale_ids) == 1 + kinds.count("ok")
        reported = set(
            session.scalars(
                select(AuditEvent.entity_id).where(
                    AuditEvent.entity == "sale", AuditEvent.action == "reported"
                )
            )
        )
        created = set(
            session.scalars(
                select(AuditEvent.entity_id).where(
                    AuditEvent.entity == "work_order", AuditEvent.action == "create"
                )
            )
        )
        rejected = set(
            session.scalars(
                select(AuditEvent.entity_id).where(
                    AuditEvent.entity == "sale_receipt", AuditEvent.action == "rejected"
                )
            )
        )
        assert reported == sale_ids, "every sale has its `sale reported` event"
        assert created == order_ids, "every work order has its `work_order create` event"
        assert rejected == {r for r, kind in receipts.items() if kind == "reject"}
        # Nothing of a rolled-back savepoint is recorded: no event names a sale or order that is not there.
        assert taken["id"] in sale_ids
