"""A mixed day, made through the API at a fixed instant (time-machine), for the scorecards and
ledger tests: sales, an assignment, closings, verdicts by the robot (signed Twilio webhooks, keys
and words) and by the callback team, complaints.

2031-03-14 14:00 UTC is 09:00 in Springfield (America/Chicago, CDT), 08:00 in Riverton
(America/Denver), 07:00 in Bayview (America/Los_Angeles) and 22:00 in Shanghai (the ledger's
default time zone): the same calendar day everywhere that matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select, text

from dispatch.audit import callbacks
from dispatch.models import Callback, utcnow
from tests.callbacks_support import exhaust_automated
from tests.helpers import Api
from tests.test_webhooks import FAST, call_form, hook

DAY = date(2031, 3, 14)
NOON = datetime(2031, 3, 14, 14, 0, tzinfo=UTC)

# The Twilio webhooks' settings (signed requests, all-day calling hours, no delays) and rankings
# from 2 ratings up, for small worlds.
SETTINGS = {**FAST, "RANKING_MIN_RATED": 2}

# Demo installers: 1 = SH-01 Ana Ortiz and 2 = SH-02 Ben Carter (SPR-HEAT), 4 = RP-01 (RIV-PRO).
ANA, BEN, DANA = 1, 2, 4


@dataclass
class Day:
    o1: int  # SPR-HEAT, Ana: completed; robot: done, very satisfied (keys)
    o2: int  # SPR-HEAT, Ben: completed; callback team: done, satisfied
    o3: int  # SPR-HEAT, Ana: "customer not home"; robot hears "nobody came" (words): contradicted
    o4: int  # SPR-HEAT, Ben: "customer not home"; callback team: confirmed
    o5: int  # SPR-HEAT: open (dispatched only)
    bay: int  # Bayview: unassigned, then assigned to SPR-HEAT by a supervisor
    r1: int  # RIV-PRO, Dana: completed; callback team: not done: contradicted


def callback_id(session_factory, order_id: int) -> int:
    with session_factory() as s:
        return s.scalars(select(Callback.id).where(Callback.work_order_id == order_id)).one()


def robot_call(api: Api, session_factory, order_id: int, sid: str) -> tuple[int, int]:
    """What the job does before Twilio calls back: start the attempt, record its sid."""
    config = api.client.application.config
    cb = callback_id(session_factory, order_id)
    with session_factory() as s:
        attempt_id = callbacks.start_attempt(s, cb, "voice", utcnow(), config)
        assert attempt_id is not None
        s.commit()
        callbacks.attempt_placed(s, attempt_id, sid)
        s.commit()
    return cb, attempt_id


def team_answer(api: Api, session_factory, order_id: int, **answer) -> None:
    """The robot never got through; the callback team claims the callback and records the answer."""
    config = api.client.application.config
    cb = callback_id(session_factory, order_id)
    exhaust_automated(session_factory, cb, config)
    assert api.post(f"/api/v1/callbacks/{cb}/claim", "callback").status_code == 200
    done = api.post(f"/api/v1/callbacks/{cb}/answer", "callback", {"reached": True, **answer})
    assert done.status_code == 200, done.get_json()


def _close(api: Api, order_id: int, provider: str, installer: int, reason: str | None = None) -> None:
    if reason:
        response = api.close(order_id, provider, installer, outcome="not_completed", reason=reason)
    else:
        response = api.close(order_id, provider, installer)
    assert response.status_code == 200, response.get_json()


def mixed_day(api: Api, session_factory) -> Day:
    """Run the day (call it inside time_machine.travel(NOON, tick=True))."""
    orders = [
        api.sale(phone=f"+1 217 555 02{n:02d}", name=f"Customer {n}")["work_orders"][0]["id"]
        for n in range(5)
    ]
    o1, o2, o3, o4, o5 = orders
    bay = api.sale(city="Bayview", phone="+1 415 555 0230")["work_orders"][0]
    assert bay["state"] == "unassigned"
    assigned = api.post(f"/api/v1/work-orders/{bay['id']}/assign", "supervisor", {"provider": "SPR-HEAT"})
    assert assigned.status_code == 200, assigned.get_json()
    r1 = api.sale(city="Riverton", phone="+1 303 555 0231")["work_orders"][0]["id"]

    _close(api, o1, "SPR-HEAT", ANA)
    _close(api, o2, "SPR-HEAT", BEN)
    _close(api, o3, "SPR-HEAT", ANA, "customer_not_home")
    _close(api, o4, "SPR-HEAT", BEN, "customer_not_home")
    _close(api, r1, "RIV-PRO", DANA)

    # o1: the robot calls; the customer presses 1 (done), then 1 (very satisfied).
    sid1 = "CA" + "1" * 32
    _, attempt = robot_call(api, session_factory, o1, sid1)
    hook(api, "voice", call_form(sid1, CallStatus="in-progress", AnsweredBy="human"), attempt=attempt)
    hook(api, "gather", call_form(sid1, Digits="1"), attempt=attempt, q="done", t=0)
    hook(api, "gather", call_form(sid1, Digits="1"), attempt=attempt, q="rating", t=0, happened="done")
    # o3: the robot calls; the customer says she was home and nobody came.
    sid3 = "CA" + "3" * 32
    _, attempt = robot_call(api, session_factory, o3, sid3)
    hook(api, "voice", call_form(sid3, CallStatus="in-progress", AnsweredBy="human"), attempt=attempt)
    words = call_form(sid3, SpeechResult="No, I was home all day and nobody came.", Confidence="0.93")
    hook(api, "gather", words, attempt=attempt, q="claim", t=0)
    # The callback team takes o2, o4 and r1.
    team_answer(api, session_factory, o2, happened="done", rating="satisfied")
    team_answer(api, session_factory, o4, happened="confirmed")
    team_answer(api, session_factory, r1, happened="not_done", note="nobody installed anything")
    return Day(o1, o2, o3, o4, o5, bay["id"], r1)


def aggregates(engine) -> list[tuple]:
    """Every row of the daily aggregates, in key order."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM scorecard_days ORDER BY 1, 2, 3, 4"))]
