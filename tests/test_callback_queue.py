"""Automated attempts and their escalation, opt-outs, and the callback team's queue: ranking,
leases, answers and what a verdict does (complaint, reopened order, provider under review)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, update

from dispatch.audit import callbacks, trail
from dispatch.audit.callbacks import CustomerAnswer
from dispatch.models import Callback, Complaint, ContactAttempt, OutboxMessage, Provider, WorkOrder, utcnow
from dispatch.platform.actors import Actor
from dispatch.platform.config import DEFAULTS
from tests.callbacks_support import (
    ALL_DAY,
    agent_actor,
    callback_of,
    close_with,
    exhaust_automated,
    new_agent,
)

# Calling hours all day: these tests must not depend on the time of day they run at.
APP_SETTINGS = ALL_DAY


# An order in Riverton (Denver time), served by RIV-PRO and its installer.
RIVERTON = {"city": "Riverton", "provider": "RIV-PRO", "installer": 4}


def _to_queue(api, session_factory, cfg, claim: str, **kw) -> tuple[int, int]:
    """A closed order whose automated attempts all went unanswered: (order id, callback id)."""
    order_id = close_with(api, claim, **kw)
    with session_factory() as session:
        cb_id = callback_of(session, order_id).id
    exhaust_automated(session_factory, cb_id, cfg)
    return order_id, cb_id


# --- automated attempts -------------------------------------------------------------------------


def test_unanswered_attempts_go_voice_sms_voice_then_to_the_human_queue(api, session, session_factory, cfg):
    order_id = close_with(api, "customer_not_home")
    cb_id = callback_of(session, order_id).id
    used = exhaust_automated(session_factory, cb_id, cfg)
    assert used == ["voice", "sms", "voice"]
    cb = callback_of(session, order_id)
    assert (cb.state, cb.automated_attempts) == ("human_queue", DEFAULTS["CALLBACK_MAX_AUTOMATED_ATTEMPTS"])
    assert "no answer after 3" in cb.escalation_reason
    attempts = session.scalars(
        select(ContactAttempt).where(ContactAttempt.callback_id == cb_id).order_by(ContactAttempt.seq)
    ).all()
    assert [(a.seq, a.channel, a.status) for a in attempts] == [
        (1, "voice", "not_answered"),
        (2, "sms", "not_answered"),
        (3, "voice", "not_answered"),
    ]
    jobs = session.scalars(
        select(OutboxMessage.payload).where(OutboxMessage.job == "place_callback_attempt")
    ).all()
    assert [j["channel"] for j in jobs] == ["voice", "sms", "voice"]  # one request per step, none after
    actions = [e.action for e in trail.history(session, "callback", cb_id)]
    assert actions.count("attempt_started") == 3 and actions[-1] == "to_human_queue"
    # The order is untouched: unreachable so far is not a verdict.
    assert session.get(WorkOrder, order_id).state == "closed_not_completed"


def test_status_callbacks_are_idempotent_and_machines_are_not_answers(api, session, cfg):
    cb = callback_of(session, close_with(api, "completed"))
    attempt = callbacks.start_attempt(session, cb.id, "voice", cb.due_at, cfg)
    callbacks.attempt_placed(session, attempt, "CA-1")
    callbacks.attempt_placed(session, attempt, "CA-1")  # the webhook outran the job: harmless
    session.commit()
    for _ in range(3):  # Twilio delivers the same status callback again
        callbacks.attempt_status(session, "CA-1", "ringing", None, cfg)
        callbacks.attempt_status(session, "CA-1", "completed", "machine_end_beep", cfg)
        session.commit()
    cb = callback_of(session, cb.work_order_id)
    assert (cb.state, cb.next_channel, cb.automated_attempts) == ("scheduled", "sms", 1)
    row = session.get(ContactAttempt, attempt)
    assert (row.status, row.answered_by) == ("not_answered", "machine_end_beep")
    assert [h["status"] for h in row.status_history] == [
        "started",
        "placed",
        "ringing",
        "completed",
        "not_answered",
    ]
    assert [e.action for e in trail.history(session, "callback", cb.id)].count("retry_scheduled") == 1


def test_a_call_answered_by_a_person_who_chose_nothing_is_not_an_answer(api, session, cfg):
    cb = callback_of(session, close_with(api, "completed"))
    attempt = callbacks.start_attempt(session, cb.id, "voice", cb.due_at, cfg)
    callbacks.attempt_placed(session, attempt, "CA-2")
    callbacks.attempt_status(session, "CA-2", "in-progress", "human", cfg)
    callbacks.attempt_status(session, "CA-2", "completed", "human", cfg)
    session.commit()
    assert callback_of(session, cb.work_order_id).state == "scheduled"


def test_voice_answer_reaches_a_verdict_once(api, session, cfg):
    order_id = close_with(api, "completed")
    cb = callback_of(session, order_id)
    attempt = callbacks.start_attempt(session, cb.id, "voice", cb.due_at, cfg)
    callbacks.attempt_placed(session, attempt, "CA-3")
    prompt = callbacks.prompt_for_attempt(session, "CA-3")
    assert (prompt.callback_id, prompt.claim, prompt.attempt_id, prompt.customer_first_name) == (
        cb.id,
        "completed",
        attempt,
        "Mary",
    )
    robot = Actor.system("twilio")
    answer = CustomerAnswer("done", rating="very_satisfied")
    assert (
        callbacks.record_answer(session, cb.id, answer, channel="voice", actor=robot, attempt_id=attempt)
        == "confirmed"
    )
    session.commit()
    # A repeated Gather webhook, with another answer even: nothing changes.
    other = CustomerAnswer("not_done")
    assert (
        callbacks.record_answer(session, cb.id, other, channel="voice", actor=robot, attempt_id=attempt)
        == "confirmed"
    )
    callbacks.attempt_status(session, "CA-3", "completed", "human", cfg)  # hang-up after answering
    session.commit()
    cb = callback_of(session, order_id)
    assert (cb.state, cb.verdict, cb.rating, cb.answer_channel) == (
        "resolved",
        "confirmed",
        "very_satisfied",
        "voice",
    )
    assert session.get(WorkOrder, order_id).state == "verified"
    assert session.scalar(select(func.count()).select_from(Complaint)) == 0
    assert callbacks.prompt_for_attempt(session, "CA-3") is None  # no longer open


def test_sms_reply_answers_and_stop_opts_out(api, session, session_factory, cfg):
    cb = callback_of(session, close_with(api, "customer_not_home"))
    voice = callbacks.start_attempt(session, cb.id, "voice", cb.due_at, cfg)
    callbacks.attempt_placed(session, voice, "CA-4")
    callbacks.attempt_status(session, "CA-4", "busy", None, cfg)
    session.commit()
    cb = callback_of(session, cb.work_order_id)
    sms = callbacks.start_attempt(session, cb.id, "sms", cb.due_at, cfg)
    callbacks.attempt_placed(session, sms, "SM-4")
    callbacks.attempt_status(session, "SM-4", "delivered", None, cfg)
    session.commit()
    assert session.get(ContactAttempt, sms).status == "awaiting_reply"
    target = callbacks.sms_reply_target(session, cb.phone)
    assert (target.callback_id, target.attempt_id, target.channel) == (cb.id, sms, "sms")
    # The customer replies "STOP": no more automated messages, the callback goes to a person.
    callbacks.opt_out(session, cb.phone, "sms:STOP")
    session.commit()
    cb = callback_of(session, cb.work_order_id)
    assert (cb.state, cb.escalation_reason) == ("human_queue", "opted_out")
    assert session.get(ContactAttempt, sms).status == "opted_out"
    # A new closing for the same number goes straight to the team when its time comes.
    other = callback_of(session, close_with(api, "completed"))
    assert other.phone == cb.phone
    assert callbacks.start_attempt(session, other.id, "voice", other.due_at, cfg) is None
    session.commit()
    assert callback_of(session, other.work_order_id).state == "human_queue"
    callbacks.opt_in(session, cb.phone, "sms:START")
    session.commit()
    assert not callbacks.is_opted_out(session, cb.phone)


def test_released_attempt_is_dialled_by_the_retry_and_only_once(api, session, cfg):
    cb = callback_of(session, close_with(api, "completed"))
    first = callbacks.start_attempt(session, cb.id, "voice", cb.due_at, cfg)
    session.commit()
    callbacks.release_attempt(session, first, "503 from Twilio")  # nothing was dialled
    session.commit()
    assert callbacks.start_attempt(session, cb.id, "voice", cb.due_at, cfg) == first
    session.commit()
    assert callbacks.start_attempt(session, cb.id, "voice", cb.due_at, cfg) is None
    assert session.scalar(select(func.count()).select_from(ContactAttempt)) == 1


def test_a_number_refused_for_good_moves_on(api, session, cfg):
    cb = callback_of(session, close_with(api, "completed"))
    first = callbacks.start_attempt(session, cb.id, "voice", cb.due_at, cfg)
    session.commit()
    callbacks.attempt_failed(session, first, "21211 invalid 'To' number", cfg)
    session.commit()
    assert session.get(ContactAttempt, first).status == "failed"
    assert callback_of(session, cb.work_order_id).next_channel == "sms"


# --- the callback team's queue ----------------------------------------------------------------------


def test_queue_puts_risky_claims_and_risky_providers_first(api, session_factory, cfg):
    robot = Actor.system("twilio")
    # RIV-PRO has a record: one "not home" claim contradicted by its customer.
    past_order = close_with(api, "customer_not_home", **RIVERTON, phone="+1 303 555 0190")
    with session_factory() as session:
        past = callback_of(session, past_order)
        callbacks.record_answer(
            session, past.id, CustomerAnswer("nobody_came"), channel="voice", actor=robot, settings=cfg
        )
        session.commit()
    routine, _ = _to_queue(api, session_factory, cfg, "completed", phone="+1 217 555 0101")
    not_home, _ = _to_queue(api, session_factory, cfg, "customer_not_home", phone="+1 217 555 0102")
    risky, _ = _to_queue(
        api,
        session_factory,
        cfg,
        "parts_missing",
        **RIVERTON,
        phone="+1 303 555 0103",
    )
    response = api.get("/api/v1/callbacks", "callback")
    assert response.status_code == 200, response.get_json()
    queue = response.get_json()
    assert [item["work_order_id"] for item in queue] == [risky, not_home, routine]
    top = queue[0]
    assert top["high_risk_provider"] is True and top["provider_contradiction_percent"] == 100
    assert top["provider"]["code"] == "RIV-PRO" and top["claim"] == "parts_missing"
    assert top["customer"]["phone"] == "+13035550103" and top["customer"]["city"] == "Riverton"
    assert top["customer"]["timezone"] == "America/Denver"
    assert top["customer_local_time"].endswith(("-07:00", "-06:00"))
    assert top["claim_local"].endswith(("-07:00", "-06:00"))
    assert queue[2]["high_risk_provider"] is False
    # Supervisors may read the queue; providers and anonymous callers may not.
    assert api.get("/api/v1/callbacks", "supervisor").status_code == 200
    assert api.get("/api/v1/callbacks", "provider:SPR-HEAT").status_code == 403
    assert api.get("/api/v1/callbacks", None).status_code == 401
    assert api.get("/api/v1/callbacks?limit=1", "callback").get_json()[0]["work_order_id"] == risky


def _next_chicago_evening() -> datetime:
    """The next 20:30 in Chicago at least an hour from now: after the callbacks fall due, any day.

    (A fixed date here once made the queue come back empty once that date had passed.)
    """
    local = (utcnow() + timedelta(hours=1)).astimezone(ZoneInfo("America/Chicago"))
    evening = local.replace(hour=20, minute=30, second=0, microsecond=0)
    if evening < local:
        evening = (evening + timedelta(days=1)).replace(hour=20, minute=30)
    return evening.astimezone(UTC)


def test_customers_who_may_be_called_now_come_first_however_long_the_backlog(api, session_factory, cfg):
    # 1,001 urgent "not home" callbacks in Springfield (Chicago time) and one routine one in
    # Riverton (Denver time). At 20:30 in Chicago, 19:30 in Denver, with calling hours 09:00-20:00,
    # only Riverton may be called: it must head the queue, not sit behind the whole backlog.
    _, urgent = _to_queue(api, session_factory, cfg, "customer_not_home", phone="+1 217 555 0102")
    callable_order, _ = _to_queue(
        api,
        session_factory,
        cfg,
        "completed",
        **RIVERTON,
        phone="+1 303 555 0103",
    )
    with session_factory() as session:
        # The 1,000 copies are status checks of the same order, one per day (the constraints allow
        # only one verification per visit); the queue ranks every purpose alike.
        kept = ", ".join(
            c.name
            for c in Callback.__table__.columns
            if c.name not in ("id", "visit_id", "purpose", "check_day")
        )
        session.execute(
            text(
                f"INSERT INTO callbacks ({kept}, purpose, check_day) SELECT {kept}, 'status_check', current_date + n"
                " FROM callbacks, generate_series(1, 1000) AS n WHERE id = :id"
            ),
            {"id": urgent},
        )
        session.commit()
    evening = _next_chicago_evening()  # 20:30 in Chicago, 19:30 in Denver
    hours = {**cfg, "CALLING_HOURS_START": "09:00", "CALLING_HOURS_END": "20:00"}
    agent = agent_actor(session_factory)
    with session_factory() as session:
        assert session.scalar(select(func.count()).where(Callback.state == "human_queue")) == 1002
        queue = callbacks.human_queue(session, agent, hours, now=evening, limit=3)
    assert [item.callback.work_order_id for item in queue][:1] == [callable_order]
    assert [item.callable_now for item in queue] == [True, False, False]
    assert queue[0].local_time.hour == 19 and queue[1].local_time.hour == 20


def test_two_agents_never_hold_the_same_callback_and_an_abandoned_lease_expires(api, session_factory, cfg):
    order_id, cb_id = _to_queue(api, session_factory, cfg, "customer_not_home")
    bob, bob_token = new_agent(session_factory, "agent-bob")
    as_bob = {"Authorization": f"Bearer {bob_token}"}
    alice = api.post(f"/api/v1/callbacks/{cb_id}/claim", "callback")
    assert alice.status_code == 200 and alice.get_json()["state"] == "claimed"
    assert api.client.post(f"/api/v1/callbacks/{cb_id}/claim", headers=as_bob).status_code == 409
    answer = {"reached": True, "happened": "confirmed"}
    assert (
        api.client.post(f"/api/v1/callbacks/{cb_id}/answer", json=answer, headers=as_bob).status_code == 409
    )
    assert api.client.post(f"/api/v1/callbacks/{cb_id}/release", headers=as_bob).status_code == 409
    assert api.post(f"/api/v1/callbacks/{cb_id}/claim", "supervisor").status_code == 403
    # Bob does not see it offered; Alice sees it first, as hers.
    assert [i["id"] for i in api.client.get("/api/v1/callbacks", headers=as_bob).get_json()] == []
    assert api.get("/api/v1/callbacks", "callback").get_json()[0]["mine"] is True

    # Alice walks away; after the lease, the sweep (or Bob) takes it back.
    with session_factory() as session:
        lease_until = session.get(Callback, cb_id).lease_until
        assert lease_until - utcnow() <= timedelta(minutes=DEFAULTS["CALLBACK_LEASE_MINUTES"])
        session.execute(
            update(Callback).where(Callback.id == cb_id).values(lease_until=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    assert [i["id"] for i in api.client.get("/api/v1/callbacks", headers=as_bob).get_json()] == [cb_id]
    taken = api.client.post(f"/api/v1/callbacks/{cb_id}/claim", headers=as_bob)
    assert taken.status_code == 200 and taken.get_json()["lease_holder_id"] == bob.user_id
    late = api.post(
        f"/api/v1/callbacks/{cb_id}/answer", "callback", {"reached": True, "happened": "nobody_came"}
    )
    assert late.status_code == 409  # Alice's lease is gone: her answer changes nothing
    with session_factory() as session:
        assert session.get(Callback, cb_id).verdict is None
        actions = [e.action for e in trail.history(session, "callback", cb_id)]
        assert actions[-2:] == ["claimed", "lease_taken_over"]
    released = api.client.post(f"/api/v1/callbacks/{cb_id}/release", headers=as_bob)
    assert released.status_code == 200 and released.get_json()["state"] == "human_queue"


def test_sweep_returns_expired_leases_to_the_queue(api, session_factory, cfg):
    _, cb_id = _to_queue(api, session_factory, cfg, "completed")
    with session_factory() as session:
        callbacks.claim(session, agent_actor(session_factory), cb_id, cfg)
        session.commit()
        later = utcnow() + timedelta(minutes=DEFAULTS["CALLBACK_LEASE_MINUTES"] + 1)
        assert callbacks.sweep(session, cfg, now=later).leases_expired == 1
        session.commit()
        cb = session.get(Callback, cb_id)
        assert (cb.state, cb.lease_holder_id) == ("human_queue", None)


def test_contradicted_answer_opens_a_complaint_reopens_the_order_and_flags_the_provider(
    api, session_factory, cfg
):
    order_id, cb_id = _to_queue(api, session_factory, cfg, "customer_not_home")
    assert api.post(f"/api/v1/callbacks/{cb_id}/claim", "callback").status_code == 200
    body = {
        "reached": True,
        "happened": "nobody_came",
        "rating": "not_satisfied",
        "note": "Home all day, nobody came.",
    }
    response = api.post(f"/api/v1/callbacks/{cb_id}/answer", "callback", body)
    assert response.status_code == 200, response.get_json()
    cb = response.get_json()
    assert (cb["state"], cb["verdict"], cb["rating"], cb["answer_channel"]) == (
        "resolved",
        "contradicted",
        "not_satisfied",
        "human",
    )
    assert [(a["channel"], a["status"]) for a in cb["attempts"]][-1] == ("human", "answered")
    assert cb["attempts"][-1]["answer_text"] == "Home all day, nobody came."

    order = api.get(f"/api/v1/work-orders/{order_id}", "supervisor").get_json()
    assert order["state"] == "booked" or order["state"] == "pending"  # open again for a new visit
    assert [e["action"] for e in order["history"]][-2:] == ["close", "reopen"]
    assert order["verification"][0]["verdict"] == "contradicted"
    assert order["complaints"][0]["status"] == "open"

    complaints = api.get("/api/v1/complaints", "supervisor").get_json()
    assert complaints["total"] == 1
    complaint = complaints["items"][0]
    assert (complaint["work_order_id"], complaint["callback_id"], complaint["provider"]["code"]) == (
        order_id,
        cb_id,
        "SPR-HEAT",
    )
    assert "nobody_came" in complaint["summary"] and "Home all day" in complaint["summary"]
    providers = {p["code"]: p for p in api.get("/api/v1/providers", "supervisor").get_json()}
    assert providers["SPR-HEAT"]["under_review"] is True
    assert f"complaint {complaint['id']}" in providers["SPR-HEAT"]["review_reason"]
    assert providers["SPR-QUICK"]["under_review"] is False

    with session_factory() as session:
        assert [e.action for e in trail.history(session, "complaint", complaint["id"])] == ["opened"]
        assert "under_review" in [
            e.action for e in trail.history(session, "provider", complaint["provider"]["id"])
        ]
        assert "verdict" in [e.action for e in trail.history(session, "callback", cb_id)]
        assert trail.verify_chain(session).ok
    # The same answer again (a double click): the lease is gone, nothing is added.
    assert api.post(f"/api/v1/callbacks/{cb_id}/answer", "callback", body).status_code == 409
    assert api.get("/api/v1/complaints", "supervisor").get_json()["total"] == 1


def test_confirmed_completion_verifies_the_order_with_its_rating(api, session_factory, cfg):
    order_id, cb_id = _to_queue(api, session_factory, cfg, "completed")
    api.post(f"/api/v1/callbacks/{cb_id}/claim", "callback")
    body = {"reached": True, "happened": "done", "rating": "very_satisfied"}
    assert (
        api.post(f"/api/v1/callbacks/{cb_id}/answer", "callback", body).get_json()["verdict"] == "confirmed"
    )
    order = api.get(f"/api/v1/work-orders/{order_id}", "provider:SPR-HEAT").get_json()
    assert order["state"] == "verified"
    assert (order["verification"][0]["verdict"], order["verification"][0]["rating"]) == (
        "confirmed",
        "very_satisfied",
    )
    assert order["complaints"] == []


def test_unreachable_after_every_try_never_confirms(api, session_factory, cfg):
    order_id, cb_id = _to_queue(api, session_factory, cfg, "completed")
    for n in range(DEFAULTS["CALLBACK_MAX_HUMAN_ATTEMPTS"]):
        assert api.post(f"/api/v1/callbacks/{cb_id}/claim", "callback").status_code == 200
        r = api.post(
            f"/api/v1/callbacks/{cb_id}/answer", "callback", {"reached": False, "note": f"voicemail {n}"}
        )
        assert r.status_code == 200
        if n < DEFAULTS["CALLBACK_MAX_HUMAN_ATTEMPTS"] - 1:
            assert r.get_json()["state"] == "human_queue"
            assert r.get_json()["verdict"] is None
            with session_factory() as session:  # tried again later
                session.execute(update(Callback).where(Callback.id == cb_id).values(due_at=utcnow()))
                session.commit()
    final = r.get_json()
    assert (final["state"], final["verdict"], final["human_attempts"]) == ("resolved", "unreachable", 3)
    assert [a["status"] for a in final["attempts"] if a["channel"] == "human"] == ["not_reached"] * 3
    order = api.get(f"/api/v1/work-orders/{order_id}", "supervisor").get_json()
    assert order["state"] == "closed_completed"  # not verified
    assert api.get("/api/v1/complaints", "supervisor").get_json()["total"] == 0


def test_answers_that_do_not_fit_are_refused_and_change_nothing(api, session_factory, cfg):
    order_id, cb_id = _to_queue(api, session_factory, cfg, "completed")
    api.post(f"/api/v1/callbacks/{cb_id}/claim", "callback")
    for body, field in [
        ({"reached": True}, "happened"),
        ({"reached": True, "happened": "nobody_came"}, "happened"),  # not an answer to "completed"
        ({"reached": True, "happened": "done", "rating": "meh"}, "rating"),
        ({"reached": False, "happened": "done"}, "happened"),
        ({"reached": True, "happened": "done", "extra": 1}, "extra"),
    ]:
        r = api.post(f"/api/v1/callbacks/{cb_id}/answer", "callback", body)
        assert r.status_code == 422, (body, r.get_json())
        assert field in r.get_json()["errors"], r.get_json()
    with session_factory() as session:
        cb = session.get(Callback, cb_id)
        assert (cb.state, cb.verdict) == ("claimed", None)
        assert session.get(WorkOrder, order_id).state == "closed_completed"
    assert api.post("/api/v1/callbacks/999999/claim", "callback").status_code == 404


def test_provider_sees_the_evidence_of_its_own_orders_only(api, session_factory, cfg):
    order_id, cb_id = _to_queue(api, session_factory, cfg, "customer_not_home")
    own = api.get(f"/api/v1/work-orders/{order_id}", "provider:SPR-HEAT").get_json()
    evidence = own["verification"][0]
    assert evidence["claim"] == "customer_not_home" and len(evidence["attempts"]) == 3
    assert {a["channel"] for a in evidence["attempts"]} == {"voice", "sms"}
    assert all(a["started_at"] and a["status"] == "not_answered" for a in evidence["attempts"])
    assert api.get(f"/api/v1/work-orders/{order_id}", "provider:RIV-PRO").status_code == 404
    assert api.get(f"/api/v1/callbacks/{cb_id}", "provider:SPR-HEAT").status_code == 403
    assert api.get(f"/api/v1/callbacks/{cb_id}", "supervisor").get_json()["id"] == cb_id


def test_opted_out_numbers_are_not_called_even_when_planned_before(api, session, cfg):
    cb = callback_of(session, close_with(api, "completed"))
    callbacks.opt_out(session, cb.phone, "sms:STOP")
    session.commit()
    cb = callback_of(session, cb.work_order_id)
    assert cb.state == "human_queue"
    assert callbacks.start_attempt(session, cb.id, "voice", utcnow(), cfg) is None
    assert session.scalar(select(func.count()).select_from(ContactAttempt)) == 0
    assert session.scalar(select(Provider.under_review).where(Provider.code == "SPR-HEAT")) is False


def test_the_api_records_not_reached_with_the_consoles_reasons(api, session_factory, cfg):
    _order_id, cb_id = _to_queue(api, session_factory, cfg, "customer_not_home", **RIVERTON)
    url = f"/api/v1/callbacks/{cb_id}/answer"
    assert api.post(f"/api/v1/callbacks/{cb_id}/claim", "callback").status_code == 200
    for body, field in [
        ({"reached": False, "not_reached_reason": "gone fishing"}, "not_reached_reason"),
        ({"reached": False, "not_reached_reason": "call_later"}, "call_at"),
        ({"reached": True, "happened": "confirmed", "not_reached_reason": "no_answer"}, "not_reached_reason"),
        ({"reached": False, "not_reached_reason": "wrong_number", "call_at": "2030-01-01T10:00"}, "call_at"),
    ]:
        r = api.post(url, "callback", body)
        assert r.status_code == 422, (body, r.get_json())
        assert field in r.get_json()["errors"], r.get_json()
    # Asked to be called tomorrow at 10:00, the customer's time (Denver), written without an offset.
    tomorrow = (utcnow().astimezone(ZoneInfo("America/Denver")) + timedelta(days=1)).date()
    r = api.post(
        url,
        "callback",
        {
            "reached": False,
            "not_reached_reason": "call_later",
            "call_at": f"{tomorrow}T10:00",
            "note": "at work",
        },
    )
    assert r.status_code == 200, r.get_json()
    after = r.get_json()
    assert (after["state"], after["verdict"], after["human_attempts"]) == ("human_queue", None, 0)
    due = datetime.fromisoformat(after["due_at"]).astimezone(ZoneInfo("America/Denver"))
    assert (due.date(), due.hour, due.minute) == (tomorrow, 10, 0)
    # A wrong number counts as a try, as on the console.
    with session_factory() as session:
        session.execute(update(Callback).where(Callback.id == cb_id).values(due_at=utcnow()))
        session.commit()
    assert api.post(f"/api/v1/callbacks/{cb_id}/claim", "callback").status_code == 200
    r = api.post(url, "callback", {"reached": False, "not_reached_reason": "wrong_number"})
    assert (r.status_code, r.get_json()["human_attempts"]) == (200, 1)
    assert r.get_json()["attempts"][-1]["status"] == "not_reached"
