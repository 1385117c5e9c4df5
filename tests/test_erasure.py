"""Erasure on request: a customer's personal data leaves every table; the audit trail, which never
held it, still verifies; the orders keep their history. And opt-outs put no number in the trail.

The customer is created, served and verified through the API and Twilio's signed webhooks, then
erased with `dispatch customer erase`; every table is then read back as text and searched.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from click.testing import CliRunner
from sqlalchemy import select, text
from twilio.request_validator import RequestValidator

from dispatch import cli
from dispatch.audit import callbacks
from dispatch.models import AuditEvent, Base, Callback, ContactAttempt, OptOut, utcnow
from dispatch.sales import receipts
from tests.helpers import Api, sale_body
from tests.test_webhooks import ACCOUNT, FAST, PHONE, PUBLIC, TOKEN

SECRET = "erasure-test-pii-key-0123456789"
NAME = "Wilhelmina Quartermaine"
ADDRESS = "77 Juniper Lane"
NOTE = "Wilhelmina left the key with the neighbour"
# The number in any format (E.164, "(217) 555-0142", "217.555.0142"...).
ANY_FORM = re.compile(r"2\D{0,3}1\D{0,3}7\D{0,3}5\D{0,3}5\D{0,3}5\D{0,3}0\D{0,3}1\D{0,3}4\D{0,3}2")

APP_SETTINGS = {**FAST, "PII_HASH_SECRET": SECRET}


def hook(api: Api, name: str, params: dict, **query) -> str:
    """POST a webhook signed as Twilio signs it; the TwiML answer."""
    path = f"/api/v1/twilio/{name}" + ("?" + urlencode(query) if query else "")
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, params)
    response = api.client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    return response.get_data(as_text=True)


def text_from_customer(api: Api, body: str) -> str:
    form = {"AccountSid": ACCOUNT, "MessageSid": "SM" + "e" * 32, "From": PHONE, "To": "+12175550100"}
    return hook(api, "sms", {**form, "Body": body})


def cli_run(worker_env, *args: str):
    env = {k: v for k, v in worker_env.items() if k.startswith("DISPATCH_")}
    env["DISPATCH_PII_HASH_SECRET"] = SECRET
    return CliRunner().invoke(cli.main, list(args), env=env)


def trail_text(session) -> str:
    return "\n".join(str(e.data) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def tables_holding(session, needles: list[str]) -> dict[str, list[str]]:
    """{table: [rows as text]} for every table but the audit trail whose rows hold a needle."""
    found: dict[str, list[str]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name == "audit_events":
            continue
        for (row,) in session.execute(text(f'SELECT CAST(t AS text) FROM "{table.name}" t')):
            if ANY_FORM.search(row) or any(n.lower() in row.lower() for n in needles):
                found.setdefault(table.name, []).append(row)
    return found


def serve_the_customer(api: Api, session_factory, cfg) -> tuple[int, int]:
    """Sale (and a second one accepted asynchronously), closing with a note, a text answer, STOP."""
    body = sale_body(name=NAME, phone="(217) 555-0142", address=ADDRESS)
    sale = api.post("/api/v1/sales", "sales", body, key="sale-erasure-1")
    assert sale.status_code == 201, sale.get_json()
    customer_id, order_id = sale.get_json()["customer_id"], sale.get_json()["work_orders"][0]["id"]
    later = api.client.post(
        "/api/v1/sales",
        json=sale_body(name=NAME, phone="217.555.0142", address=ADDRESS),
        headers=api.headers("sales", **{"Prefer": "respond-async", "Idempotency-Key": "sale-erasure-2"}),
    )
    assert later.status_code == 202, later.get_json()
    with session_factory() as s:
        assert receipts.register_waiting(s, batch=10, region="US").registered == 1
        s.commit()
    (second,) = api.get(f"/api/v1/customers/{customer_id}", "agent").get_json()["units"][1]["work_orders"]
    reason = {"reason": f"{NAME} returned it to the shop"}
    assert api.post(f"/api/v1/work-orders/{second['id']}/cancel", "agent", reason).status_code == 200

    closed = api.close(
        order_id, "SPR-HEAT", 1, outcome="not_completed", reason="customer_not_home", note=NOTE
    )
    assert closed.status_code == 200, closed.get_json()
    # The robot's voice call goes unanswered; the text that follows is answered "1" (nobody home).
    with session_factory() as s:
        cb = s.scalars(select(Callback).where(Callback.work_order_id == order_id)).one()
        voice = callbacks.start_attempt(s, cb.id, "voice", utcnow(), cfg)
        s.commit()
        callbacks.attempt_placed(s, voice, "CA" + "a" * 32)
        s.commit()
    status = {"AccountSid": ACCOUNT, "CallSid": "CA" + "a" * 32, "To": PHONE, "CallStatus": "no-answer"}
    hook(api, "status", status, attempt=voice)
    with session_factory() as s:
        sms = callbacks.start_attempt(s, cb.id, "sms", utcnow(), cfg)
        s.commit()
        callbacks.attempt_placed(s, sms, "SM" + "d" * 32)
        s.commit()
    delivered = {
        "AccountSid": ACCOUNT,
        "MessageSid": "SM" + "d" * 32,
        "To": PHONE,
        "MessageStatus": "delivered",
    }
    hook(api, "sms-status", delivered, attempt=sms)
    assert "Thank you" in text_from_customer(api, "1")
    with session_factory() as s:
        assert s.get(Callback, cb.id).verdict == "confirmed"
        # What the robot heard, as the spoken-answer work records it: the customer's own words.
        attempt = s.get(ContactAttempt, sms)
        attempt.heard = [{"input": "sms", "text": f"1, {NAME} here", "reading": "confirmed"}]
        s.commit()
    text_from_customer(api, "STOP")
    return customer_id, order_id


def test_erasure_removes_the_customer_everywhere_but_keeps_history_and_the_chain(
    api, session_factory, cfg, worker_env
):
    customer_id, order_id = serve_the_customer(api, session_factory, cfg)
    needles = [NAME, "Wilhelmina", "Quartermaine", "Juniper", NOTE]
    with session_factory() as s:
        assert tables_holding(s, needles)  # the scan finds the customer before the erasure
    before = api.get(f"/api/v1/work-orders/{order_id}", "supervisor").get_json()

    refused = cli_run(worker_env, "customer", "erase", str(customer_id), "--reason", f"asked by {NAME}")
    assert refused.exit_code == 2 and "reason" in refused.stderr
    result = cli_run(worker_env, "customer", "erase", str(customer_id), "--reason", "request REQ-2026-17")
    assert result.exit_code == 0, result.output
    assert f"customer {customer_id} erased" in result.stdout

    with session_factory() as s:
        assert tables_holding(s, needles) == {}
        # The refusal is kept as the number's keyed digest alone, and still holds.
        (opt_out,) = s.scalars(select(OptOut)).all()
        assert opt_out.phone is None and opt_out.phone_hash
        assert callbacks.is_opted_out(s, PHONE, cfg)
        erased = s.scalars(
            select(AuditEvent).where(AuditEvent.entity == "customer", AuditEvent.action == "erased")
        ).one()
        assert erased.data["reason"] == "request REQ-2026-17" and erased.actor == "system:operator"

    card = api.get(f"/api/v1/customers/{customer_id}", "agent").get_json()
    assert (card["name"], card["address"]) == ("(erased)", "(erased)")
    assert PHONE not in card["phone"] and card["erased_at"] is not None
    assert {u["address"] for u in card["units"]} == {"(erased)"}
    assert api.get(f"/api/v1/customers?phone={PHONE}", "agent").get_json() == []
    after = api.get(f"/api/v1/work-orders/{order_id}", "supervisor").get_json()
    # The order keeps its states, visit and verdict; only the personal fields are gone.
    assert after["state"] == before["state"] == "closed_not_completed"
    assert [(e["action"], e["to_state"]) for e in after["history"]] == [
        (e["action"], e["to_state"]) for e in before["history"]
    ]
    assert [(v["outcome"], v["reason"], v["note"]) for v in after["visits"]] == [
        ("not_completed", "customer_not_home", None)
    ]
    assert [c["verdict"] for c in after["verification"]] == ["confirmed"]

    verify = cli_run(worker_env, "audit", "verify")
    assert verify.exit_code == 0 and "audit trail intact" in verify.stdout, verify.output
    again = cli_run(worker_env, "customer", "erase", str(customer_id), "--reason", "request REQ-2026-17")
    assert again.exit_code == 2 and "already erased" in again.stderr


def test_a_customer_with_an_open_order_is_not_erased(api, worker_env, session_factory):
    sale = api.sale(name=NAME, phone=PHONE, address=ADDRESS)
    result = cli_run(worker_env, "customer", "erase", str(sale["customer_id"]), "--reason", "request REQ-1")
    assert result.exit_code == 2 and "cancel them first" in result.stderr
    card = api.get(f"/api/v1/customers/{sale['customer_id']}", "agent").get_json()
    assert (card["name"], card["phone"], card["erased_at"]) == (NAME, PHONE, None)


def test_opting_out_and_back_in_puts_no_phone_number_in_the_audit_trail(api, session_factory):
    api.sale(name=NAME, phone=PHONE, address=ADDRESS)
    text_from_customer(api, "STOP")
    text_from_customer(api, "START")
    with session_factory() as s:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.entity == "opt_out").order_by(AuditEvent.seq)
        ).all()
        assert [e.action for e in events] == ["opted_out", "opted_in"]
        trail = trail_text(s)
        assert not ANY_FORM.search(trail), trail
        # The same number's keyed digest: an auditor holding the number and the key can match it.
        assert events[0].data["phone_hash"] == events[1].data["phone_hash"]
        assert NAME not in trail and ADDRESS not in trail
        assert s.scalars(select(OptOut)).all() == []


def test_free_text_notes_reach_the_trail_only_as_digests(api, session_factory):
    """A closing note, a repair's description and a cancel reason stay on their rows only."""
    sale = api.sale(name=NAME, phone=PHONE, address=ADDRESS)
    first, unit = sale["work_orders"][0]["id"], sale["units"][0]
    assert api.close(first, "SPR-HEAT", 1, note=NOTE).status_code == 200
    repair = api.post(
        "/api/v1/repairs",
        "agent",
        {
            "serial_number": unit["serial_number"],
            "fault_category": "leak",
            "fault_description": NOTE + " (1)",
        },
    ).get_json()
    cancelled = api.post(f"/api/v1/work-orders/{repair['id']}/cancel", "agent", {"reason": NOTE + " (2)"})
    assert cancelled.status_code == 200 and cancelled.get_json()["cancel_reason"] == NOTE + " (2)"
    with session_factory() as s:
        trail = trail_text(s)
    assert "Wilhelmina" not in trail and "neighbour" not in trail, trail
    assert "note_digest" in trail and "fault_description_digest" in trail and "reason_digest" in trail
