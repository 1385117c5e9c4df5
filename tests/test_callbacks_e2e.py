"""End to end: gunicorn + `rq worker --with-scheduler` + `rq cron`, real PostgreSQL and Redis, the
real Twilio SDK talking to a local stand-in for Twilio's REST API, and the customer's side played by
posting webhooks signed with RequestValidator's algorithm (as Twilio would).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests
from redis import Redis
from rq import Queue
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from dispatch.models import Callback, Complaint
from dispatch.reference import demo
from tests.helpers import sale_body
from tests.procs import free_port, start_cron, start_gunicorn, start_worker, wait_until
from tests.twilio_standin import Recorded, TwilioStandIn

pytestmark = pytest.mark.slow

ACCOUNT = "AC" + "3" * 32
TOKEN = "e2e-auth-token"
FALSE_CLAIM, TRUE_CLAIM, SILENT = "+12175550131", "+12175550132", "+12175550133"


def e2e_env(worker_env: dict, standin: TwilioStandIn, port: int) -> dict:
    """Twilio backend against the stand-in, and callback timings in seconds."""
    return {
        **worker_env,
        "DISPATCH_TELEPHONY_BACKEND": "twilio",
        "DISPATCH_TWILIO_ACCOUNT_SID": ACCOUNT,
        "DISPATCH_TWILIO_AUTH_TOKEN": TOKEN,
        "DISPATCH_TWILIO_FROM_NUMBER": "+12175550100",
        "DISPATCH_TWILIO_API_BASE_URL": standin.url,
        "DISPATCH_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "DISPATCH_CALLING_HOURS_START": "00:00",
        "DISPATCH_CALLING_HOURS_END": "24:00",
        "DISPATCH_CALLBACK_DELAY_NOT_HOME_MINUTES": "0",
        "DISPATCH_CALLBACK_DELAY_COMPLETED_MINUTES": "0",
        "DISPATCH_CALLBACK_DELAY_OTHER_MINUTES": "0",
        "DISPATCH_CALLBACK_RETRY_MINUTES": "0.02",
        "DISPATCH_CALLBACK_SMS_REPLY_MINUTES": "0.05",
        "DISPATCH_CALLBACK_CALL_TIMEOUT_MINUTES": "1",
        "DISPATCH_CALLBACK_MAX_AUTOMATED_ATTEMPTS": "2",
        "DISPATCH_CALLBACK_SWEEP_STALE_MINUTES": "0.05",
        "DISPATCH_RATE_LIMIT_SALES": "",
        "DISPATCH_RATE_LIMIT_CLOSE": "",
    }


@pytest.fixture
def system(worker_env, session_factory, redis_conn):
    """The running system: web, worker, cron, and the Twilio stand-in; yields (base url, tokens, stand-in)."""
    standin = TwilioStandIn().start()
    port = free_port()
    env = e2e_env(worker_env, standin, port)
    with session_factory() as s:
        tokens = demo.seed(s)
        s.commit()
    procs = [start_gunicorn(env, port=port), start_worker(env), start_cron(env)]
    try:
        yield f"http://127.0.0.1:{port}", tokens, standin, env
    finally:
        for p in procs:
            p.stop()
        standin.stop()
        for p in procs:
            if "Traceback" in p.output():
                print(f"--- {p.name} log ---\n{p.output()[-4000:]}")


class Customer:
    """The customer's phone, as Twilio reports it: signed webhooks to the URLs the SDK sent."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.validator = RequestValidator(TOKEN)

    def post(self, url: str, params: dict) -> requests.Response:
        assert url.startswith(self.base)
        signature = self.validator.compute_signature(url, params)
        response = requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)
        assert response.status_code in (200, 204), (url, response.status_code, response.text)
        return response

    def answer_call(self, call: Recorded, *keys: str) -> list[str]:
        """Pick up, hear the menu, press `keys` one per question; returns what was said."""
        base = {"AccountSid": ACCOUNT, "CallSid": call.sid, "To": call.form["To"], "From": call.form["From"]}
        said = []
        twiml = self.post(call.form["Url"], {**base, "CallStatus": "in-progress", "AnsweredBy": "human"}).text
        for key in keys:
            root = ET.fromstring(twiml)
            said.append(" ".join(s.text or "" for s in root.iter("Say")))
            twiml = self.post(root.find("Gather").get("action"), {**base, "Digits": key}).text
        said.append(" ".join(s.text or "" for s in ET.fromstring(twiml).iter("Say")))
        self.post(call.form["StatusCallback"], {**base, "CallStatus": "completed", "AnsweredBy": "human"})
        return said

    def miss_call(self, call: Recorded) -> None:
        base = {"AccountSid": ACCOUNT, "CallSid": call.sid, "To": call.form["To"], "From": call.form["From"]}
        self.post(call.form["StatusCallback"], {**base, "CallStatus": "no-answer"})

    def receive_text(self, message: Recorded) -> None:
        form = {
            "AccountSid": ACCOUNT,
            "MessageSid": message.sid,
            "To": message.form["To"],
            "MessageStatus": "delivered",
        }
        self.post(message.form["StatusCallback"], form)


def api(base: str, tokens: dict, who: str, method: str, path: str, body=None) -> requests.Response:
    headers = {"Authorization": "Bearer " + tokens["demo-" + who.replace(":", "-")]}
    return requests.request(method, base + path, json=body, headers=headers, timeout=10)


def test_false_claim_becomes_complaint_true_one_confirmed_silent_one_reaches_people(
    system, session_factory, redis_conn
):
    base, tokens, standin, env = system
    orders = {}
    for phone, outcome, reason in (
        (FALSE_CLAIM, "not_completed", "customer_not_home"),
        (TRUE_CLAIM, "not_completed", "customer_not_home"),
        (SILENT, "completed", None),
    ):
        sale = api(base, tokens, "sales", "POST", "/api/v1/sales", sale_body(phone=phone))
        assert sale.status_code == 201, sale.text
        order_id = sale.json()["work_orders"][0]["id"]
        body = {"outcome": outcome, "installer_id": 1, "visited_at": "2020-01-01T10:00:00+00:00"}
        if reason:
            body["reason"] = reason
        closed = api(base, tokens, "provider:SPR-HEAT", "POST", f"/api/v1/work-orders/{order_id}/close", body)
        assert closed.status_code == 200, closed.text
        orders[phone] = order_id

    # The worker dials each customer through the SDK: one call each, with our webhooks.
    wait_until(lambda: len(standin.calls()) == 3, timeout=60, what="three calls at the stand-in")
    for call in standin.calls():
        assert call.auth == (ACCOUNT, TOKEN)
        assert call.form["Url"].startswith(base + "/api/v1/twilio/voice?attempt=")
        assert call.form["MachineDetection"] == "Enable"
    customer = Customer(base)
    said = customer.answer_call(standin.calls(FALSE_CLAIM)[0], "2")
    assert "found nobody home" in said[0] and "Press 2 if you were home and nobody came" in said[0]
    customer.answer_call(standin.calls(TRUE_CLAIM)[0], "1")
    customer.miss_call(standin.calls(SILENT)[0])

    # The silent customer gets a text next, then (no reply) goes to the callback team.
    wait_until(lambda: len(standin.messages(SILENT)) == 1, timeout=60, what="the fallback text")
    text = standin.messages(SILENT)[0]
    assert "Reply 1 if the work was done" in text.form["Body"] and "STOP" in text.form["Body"]
    customer.receive_text(text)

    def settled() -> bool:
        # The sweep (cron runs it every minute) closes the unanswered text; ask the worker for it now.
        Queue(
            f"{env['DISPATCH_QUEUE_PREFIX']}-default", connection=Redis.from_url(env["DISPATCH_REDIS_URL"])
        ).enqueue("dispatch.jobs.tasks.sweep_callbacks")
        with session_factory() as s:
            return s.scalars(select(Callback.state).where(Callback.phone == SILENT)).one() == "human_queue"

    wait_until(settled, timeout=90, interval=2, what="the silent customer's callback in the human queue")

    with session_factory() as s:
        by_phone = {c.phone: c for c in s.scalars(select(Callback))}
        assert (by_phone[FALSE_CLAIM].state, by_phone[FALSE_CLAIM].verdict) == ("resolved", "contradicted")
        assert (by_phone[TRUE_CLAIM].state, by_phone[TRUE_CLAIM].verdict) == ("resolved", "confirmed")
        [complaint] = s.scalars(select(Complaint)).all()
        assert complaint.work_order_id == orders[FALSE_CLAIM]

    # What people see: the complaint for supervisors, the silent customer in the team's queue.
    complaints = api(base, tokens, "supervisor", "GET", "/api/v1/complaints")
    assert complaints.status_code == 200, complaints.text
    assert [c["work_order_id"] for c in complaints.json()["items"]] == [orders[FALSE_CLAIM]]
    queue = api(base, tokens, "callback", "GET", "/api/v1/callbacks")
    assert queue.status_code == 200, queue.text
    assert [item["work_order_id"] for item in queue.json()] == [orders[SILENT]]

    # Never more than one dial per attempt: one call each, one text for the silent customer.
    assert [len(standin.calls(p)) for p in (FALSE_CLAIM, TRUE_CLAIM, SILENT)] == [1, 1, 1]
    # (The provider's notices of these orders are texts too, to its own phone.)
    customers = {FALSE_CLAIM, TRUE_CLAIM, SILENT}
    assert len([m for m in standin.messages() if m.form["To"] in customers]) == 1
