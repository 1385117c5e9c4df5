"""Twilio's webhooks against the app: signatures, the menus, statuses, texts, STOP, rate limit.

Each request is signed exactly as Twilio signs it (RequestValidator's algorithm over the public
URL and the form), and the domain state is read back from PostgreSQL.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from dispatch.app import create_app
from dispatch.audit import callbacks
from dispatch.models import (
    AttemptStatusEvent,
    AuditEvent,
    Callback,
    Complaint,
    ContactAttempt,
    OptOut,
    utcnow,
)
from tests.helpers import Api

PUBLIC = "https://dispatch.example.com"
TOKEN = "hook-test-token"
ACCOUNT = "AC" + "2" * 32
PHONE = "+12175550142"

FAST = {
    "TELEPHONY_BACKEND": "twilio",
    "TWILIO_ACCOUNT_SID": ACCOUNT,
    "TWILIO_AUTH_TOKEN": TOKEN,
    "TWILIO_FROM_NUMBER": "+12175550100",
    "PUBLIC_BASE_URL": PUBLIC,
    "CALLING_HOURS_START": "00:00",
    "CALLING_HOURS_END": "24:00",
    "CALLBACK_DELAY_NOT_HOME_MINUTES": 0,
    "CALLBACK_DELAY_COMPLETED_MINUTES": 0,
    "CALLBACK_DELAY_OTHER_MINUTES": 0,
    "CALLBACK_RETRY_MINUTES": 0,
}


APP_SETTINGS = FAST  # conftest's `app` (and so `client` and `api`) use these


def sign(url: str, params: dict, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def hook(api: Api, name: str, params: dict, *, signed: bool = True, token: str = TOKEN, **query):
    """POST a webhook as Twilio would (signed over the public URL), or unsigned/forged."""
    path = f"/api/v1/twilio/{name}" + ("?" + urlencode(query) if query else "")
    headers = {"X-Twilio-Signature": sign(PUBLIC + path, params, token)} if signed else {}
    return api.client.post(path, data=params, headers=headers)


def closed_with(
    api: Api, *, outcome: str = "not_completed", reason: str | None = "customer_not_home", phone=PHONE
):
    order = api.sale(phone=phone)["work_orders"][0]
    response = api.close(order["id"], "SPR-HEAT", 1, outcome=outcome, reason=reason)
    assert response.status_code == 200, response.get_json()
    return order["id"]


def dial(
    api: Api, session_factory, channel: str = "voice", sid: str = "CA" + "a" * 32
) -> tuple[int, int, str]:
    """What the job does: start the attempt (commit), then record the sid Twilio gave."""
    config = api.client.application.config
    with session_factory() as s:
        cb = s.scalars(select(Callback).order_by(Callback.id.desc())).first()
        attempt_id = callbacks.start_attempt(s, cb.id, channel, utcnow(), config)
        assert attempt_id is not None
        s.commit()
        callbacks.attempt_placed(s, attempt_id, sid)
        s.commit()
        return cb.id, attempt_id, sid


def state(session_factory) -> dict:
    with session_factory() as s:
        return {
            "callbacks": [
                (c.state, c.verdict, c.next_channel)
                for c in s.scalars(select(Callback).order_by(Callback.id))
            ],
            "attempts": [
                (a.status, list(a.status_history))
                for a in s.scalars(select(ContactAttempt).order_by(ContactAttempt.id))
            ],
            "status_events": s.scalar(select(func.count()).select_from(AttemptStatusEvent)),
            "opt_outs": s.scalar(select(func.count()).select_from(OptOut)),
            "complaints": s.scalar(select(func.count()).select_from(Complaint)),
            "audit": s.scalar(select(func.count()).select_from(AuditEvent)),
        }


def call_form(sid: str, **extra) -> dict:
    return {"AccountSid": ACCOUNT, "CallSid": sid, "From": "+12175550100", "To": PHONE, **extra}


# --- signatures ------------------------------------------------------------------------------


def test_unsigned_and_forged_webhooks_get_403_and_change_nothing(api, session_factory):
    closed_with(api)
    _, attempt_id, sid = dial(api, session_factory)
    before = state(session_factory)
    answer = call_form(sid, Digits="2", CallStatus="in-progress")
    forged = [
        hook(api, "gather", answer, signed=False, attempt=attempt_id, q="claim", t=0),
        hook(api, "gather", answer, token="not-the-token", attempt=attempt_id, q="claim", t=0),
        hook(api, "status", call_form(sid, CallStatus="no-answer"), signed=False, attempt=attempt_id),
        hook(
            api,
            "voice",
            call_form(sid, CallStatus="in-progress", AnsweredBy="human"),
            token="x",
            attempt=attempt_id,
        ),
        hook(api, "sms", {"From": PHONE, "Body": "STOP", "MessageSid": "SM" + "b" * 32}, signed=False),
        hook(api, "sms-status", {"MessageSid": "SM1", "MessageStatus": "failed"}, token="nope"),
    ]
    # A valid signature over other parameters than those sent (a replay with a changed key).
    path = f"/api/v1/twilio/gather?attempt={attempt_id}&q=claim&t=0"
    tampered = api.client.post(
        path, data={**answer, "Digits": "1"}, headers={"X-Twilio-Signature": sign(PUBLIC + path, answer)}
    )
    # Signed for another URL (the attempt id changed in the query).
    moved = api.client.post(
        f"/api/v1/twilio/status?attempt={attempt_id + 1}",
        data=call_form(sid, CallStatus="busy"),
        headers={
            "X-Twilio-Signature": sign(
                f"{PUBLIC}/api/v1/twilio/status?attempt={attempt_id}", call_form(sid, CallStatus="busy")
            )
        },
    )
    assert [r.status_code for r in [*forged, tampered, moved]] == [403] * 8
    assert state(session_factory) == before


# --- the phone menu --------------------------------------------------------------------------


def test_false_not_home_claim_answered_by_phone_becomes_a_complaint(api, session_factory):
    closed_with(api)
    callback_id, attempt_id, sid = dial(api, session_factory)
    voice = hook(
        api, "voice", call_form(sid, CallStatus="in-progress", AnsweredBy="human"), attempt=attempt_id
    )
    assert voice.status_code == 200 and voice.mimetype == "text/xml"
    text = voice.get_data(as_text=True)
    assert "found nobody home" in text and "Press 2 if you were home and nobody came" in text
    assert "Hello Mary" in text

    reply = hook(api, "gather", call_form(sid, Digits="2"), attempt=attempt_id, q="claim", t=0)
    assert reply.status_code == 200 and "Goodbye" in reply.get_data(as_text=True)
    done = hook(api, "status", call_form(sid, CallStatus="completed", AnsweredBy="human"), attempt=attempt_id)
    assert done.status_code == 204
    with session_factory() as s:
        cb = s.get(Callback, callback_id)
        assert (cb.state, cb.verdict, cb.answer_happened, cb.answer_channel) == (
            "resolved",
            "contradicted",
            "nobody_came",
            "voice",
        )
        assert s.scalar(select(func.count()).select_from(Complaint)) == 1
    # Twilio re-posting the same key press (or a late status) records nothing more.
    again = hook(api, "gather", call_form(sid, Digits="1"), attempt=attempt_id, q="claim", t=0)
    assert "nothing more is needed" in again.get_data(as_text=True)
    before = state(session_factory)
    hook(api, "status", call_form(sid, CallStatus="completed", AnsweredBy="human"), attempt=attempt_id)
    hook(api, "status", call_form(sid, CallStatus="ringing"), attempt=attempt_id)
    after = state(session_factory)
    assert after["callbacks"] == before["callbacks"] and after["complaints"] == 1


def test_completed_claim_two_levels_with_rating(api, session_factory):
    closed_with(api, outcome="completed", reason=None)
    callback_id, attempt_id, sid = dial(api, session_factory)
    text = hook(api, "voice", call_form(sid, AnsweredBy="human"), attempt=attempt_id).get_data(as_text=True)
    assert "Press 1 if the work was done" in text
    rating = hook(api, "gather", call_form(sid, Digits="1"), attempt=attempt_id, q="done", t=0)
    assert "Press 1 if very satisfied" in rating.get_data(as_text=True)
    with session_factory() as s:
        assert s.get(Callback, callback_id).state == "in_progress"  # nothing decided yet
    hook(api, "gather", call_form(sid, Digits="1"), attempt=attempt_id, q="rating", t=0, happened="done")
    with session_factory() as s:
        cb = s.get(Callback, callback_id)
        assert (cb.verdict, cb.rating) == ("confirmed", "very_satisfied")


def test_invalid_keys_end_politely_and_count_as_not_answered(api, session_factory):
    closed_with(api)
    callback_id, attempt_id, sid = dial(api, session_factory)
    hook(api, "voice", call_form(sid, AnsweredBy="human"), attempt=attempt_id)
    first = hook(api, "gather", call_form(sid, Digits="9"), attempt=attempt_id, q="claim", t=0).get_data(
        as_text=True
    )
    assert "Please answer with the keys on your phone" in first and "found nobody home" in first
    second = hook(api, "gather", call_form(sid, Digits=""), attempt=attempt_id, q="claim", t=1).get_data(
        as_text=True
    )
    # What the robot says is what happens next: the next try is a text.
    assert "We will send you a text message instead. Goodbye." in second and "<Gather" not in second
    with session_factory() as s:
        cb = s.get(Callback, callback_id)
        assert cb.verdict is None and cb.state == "scheduled" and cb.next_channel == "sms"
    hook(api, "status", call_form(sid, CallStatus="completed", AnsweredBy="human"), attempt=attempt_id)
    with session_factory() as s:
        cb = s.get(Callback, callback_id)
        assert cb.verdict is None and cb.state == "scheduled" and cb.automated_attempts == 1


def test_answering_machine_is_not_an_answer(api, session_factory):
    closed_with(api)
    callback_id, attempt_id, sid = dial(api, session_factory)
    voice = hook(
        api,
        "voice",
        call_form(sid, CallStatus="in-progress", AnsweredBy="machine_start"),
        attempt=attempt_id,
    )
    text = voice.get_data(as_text=True)
    assert "<Hangup" in text and "<Say" not in text and "<Gather" not in text
    with session_factory() as s:
        cb = s.get(Callback, callback_id)
        assert cb.state == "scheduled" and cb.next_channel == "sms" and cb.verdict is None


def test_repeated_and_late_status_callbacks_are_harmless(api, session_factory):
    closed_with(api)
    callback_id, attempt_id, sid = dial(api, session_factory)
    for _ in range(3):
        assert (
            hook(api, "status", call_form(sid, CallStatus="no-answer"), attempt=attempt_id).status_code == 204
        )
    hook(api, "status", call_form(sid, CallStatus="ringing"), attempt=attempt_id)  # late, out of order
    with session_factory() as s:
        cb = s.get(Callback, callback_id)
        assert cb.state == "scheduled" and cb.next_channel == "sms" and cb.automated_attempts == 1
        [attempt] = s.scalars(select(ContactAttempt)).all()
        assert attempt.status == "not_answered"


def test_status_before_the_job_recorded_the_sid_is_linked_by_the_attempt_in_the_url(api, session_factory):
    closed_with(api)
    with session_factory() as s:
        cb = s.scalars(select(Callback)).one()
        attempt_id = callbacks.start_attempt(s, cb.id, "voice", utcnow(), api.client.application.config)
        s.commit()
    sid = "CA" + "c" * 32
    assert hook(api, "status", call_form(sid, CallStatus="busy"), attempt=attempt_id).status_code == 204
    with session_factory() as s:
        attempt = s.get(ContactAttempt, attempt_id)
        assert attempt.provider_sid == sid and attempt.status == "not_answered"


# --- texts -----------------------------------------------------------------------------------


def _to_sms(api, session_factory) -> tuple[int, int, str]:
    _, attempt_id, sid = dial(api, session_factory)
    hook(api, "status", call_form(sid, CallStatus="no-answer"), attempt=attempt_id)
    callback_id, sms_attempt, sms_sid = dial(api, session_factory, "sms", "SM" + "d" * 32)
    form = {"AccountSid": ACCOUNT, "MessageSid": sms_sid, "To": PHONE}
    assert (
        hook(api, "sms-status", {**form, "MessageStatus": "delivered"}, attempt=sms_attempt).status_code
        == 204
    )
    return callback_id, sms_attempt, sms_sid


def inbound(body: str, phone: str = PHONE) -> dict:
    return {
        "AccountSid": ACCOUNT,
        "MessageSid": "SM" + "e" * 32,
        "From": phone,
        "To": "+12175550100",
        "Body": body,
    }


def test_unanswered_call_then_text_reply_decides(api, session_factory):
    closed_with(api)
    callback_id, sms_attempt, _ = _to_sms(api, session_factory)
    nonsense = hook(api, "sms", inbound("maybe"))
    assert "did not understand" in nonsense.get_data(as_text=True)
    reply = hook(api, "sms", inbound("1"))
    assert reply.status_code == 200 and "Thank you" in reply.get_data(as_text=True)
    with session_factory() as s:
        cb = s.get(Callback, callback_id)
        assert (cb.state, cb.verdict, cb.answer_channel) == ("resolved", "confirmed", "sms")
    # The same text delivered again changes nothing.
    before = state(session_factory)
    hook(api, "sms", inbound("2"))
    assert state(session_factory)["callbacks"] == before["callbacks"]


@pytest.mark.parametrize("word", ["STOP", "unsubscribe", "Cancel", "QUIT", "end", "STOPALL"])
def test_stop_words_opt_out_and_hand_the_callback_to_people(api, session_factory, word):
    closed_with(api)
    callback_id, _, _ = _to_sms(api, session_factory)
    response = hook(api, "sms", inbound(word))
    assert response.status_code == 200 and "<Message" not in response.get_data(as_text=True)
    with session_factory() as s:
        assert s.scalars(select(OptOut.phone)).all() == [PHONE]
        cb = s.get(Callback, callback_id)
        assert cb.state == "human_queue" and cb.escalation_reason == "opted_out"
    hook(api, "sms", inbound("START"))
    with session_factory() as s:
        assert s.scalars(select(OptOut)).all() == []


def test_phone_numbers_never_reach_the_log_in_full(api, session_factory, caplog):
    caplog.set_level(logging.DEBUG)
    closed_with(api)
    _to_sms(api, session_factory)
    hook(api, "sms", inbound("STOP"))
    assert any("opted out" in r.getMessage() for r in caplog.records)
    assert not [
        r.getMessage() for r in caplog.records if PHONE in r.getMessage() or PHONE[1:] in r.getMessage()
    ]


# --- rate limit ------------------------------------------------------------------------------


def test_webhooks_are_rate_limited_per_address(settings, session_factory):
    from tests.conftest import RUN_ID

    app = create_app(
        {**settings, **FAST, "WEBHOOK_RATE_LIMIT": "3/minute", "QUEUE_PREFIX": f"test-{RUN_ID}-rl"}
    )
    try:
        client = app.test_client()
        codes = [
            client.post(
                "/api/v1/twilio/status", data={"CallSid": "x"}, environ_base={"REMOTE_ADDR": "10.9.9.9"}
            ).status_code
            for _ in range(4)
        ]
        assert codes == [403, 403, 403, 429]
        other = client.post("/api/v1/twilio/status", data={}, environ_base={"REMOTE_ADDR": "10.9.9.8"})
        assert other.status_code == 403
    finally:
        app.extensions["dispatch.engine"].dispose()


def test_webhooks_are_documented_without_bearer_auth(api):
    spec = api.client.get("/openapi.json").get_json()
    for name in ("voice", "gather", "status", "sms", "sms-status"):
        op = spec["paths"][f"/api/v1/twilio/{name}"]["post"]
        assert op["security"] == []
