"""Spoken and texted answers end to end, through the signed Twilio webhooks, in English and Mandarin.

A spoken denial opens a complaint; an unclear answer is asked again by keys; a low-confidence "yes"
confirms nothing and, still unclear, the callback moves on with the robot saying truly what comes
next. What the robot heard is kept with the attempt and shown by the API.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dispatch.models import AuditEvent, Callback, Complaint, ContactAttempt
from tests.test_webhooks import FAST, call_form, dial, hook, inbound

APP_SETTINGS = {**FAST, "SPEECH_CONFIDENCE_FLOOR": 0.6}

# (city, phone, provider, what the robot asks in, what it says, a denial, an unclear answer, a yes)
LANGUAGES = {
    "en": (
        "Springfield",
        "+12175550142",
        "SPR-HEAT",
        'language="en-US"',
        "found nobody home",
        "That's not correct, nobody came.",
        "Yes, but nobody showed up.",
        "Yes, that's right.",
        "We will send you a text message instead. Goodbye.",
    ),
    "zh-CN": (
        "Nanjing",
        "+8613800138005",
        "NJ-ANXIN",
        'language="cmn-Hans-CN"',
        "师傅在",
        "不对，没有人来。",
        "对，但是没人来。",
        "对，没错。",
        "我们会给您发一条短信。再见。",
    ),
}


def not_home_claim(api, language: str) -> tuple[int, int, str]:
    """A sale in the language's city, closed as 'customer not home', and the robot's call placed."""
    city, phone, provider, *_ = LANGUAGES[language]
    order = api.sale(city=city, phone=phone, name="王芳" if language == "zh-CN" else "Mary Smith")
    order = order["work_orders"][0]
    installer = api.get("/api/v1/installers", f"provider:{provider}").get_json()[0]["id"]
    closed = api.close(order["id"], provider, installer, outcome="not_completed", reason="customer_not_home")
    assert closed.status_code == 200, closed.get_json()
    return order["id"], *dial_for(api, phone)


def dial_for(api, phone: str) -> tuple[int, str]:
    callback_id, attempt_id, sid = dial(api, api.session_factory)
    return attempt_id, sid


def say(api, sid, attempt_id, words, confidence="0.93", t=0):
    form = call_form(sid, SpeechResult=words, Confidence=confidence, CallStatus="in-progress")
    return hook(api, "gather", form, attempt=attempt_id, q="claim", t=t).get_data(as_text=True)


@pytest.fixture
def capi(api, session_factory):
    api.session_factory = session_factory
    return api


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_a_spoken_denial_opens_a_complaint(capi, session_factory, language):
    _, _, _, listens, asks, denial, *_ = LANGUAGES[language]
    order_id, attempt_id, sid = not_home_claim(capi, language)
    menu = hook(capi, "voice", call_form(sid, AnsweredBy="human"), attempt=attempt_id).get_data(as_text=True)
    assert listens in menu and asks in menu and 'input="dtmf speech"' in menu

    reply = say(capi, sid, attempt_id, denial)
    assert "<Hangup" in reply
    with session_factory() as s:
        cb = s.scalars(select(Callback)).one()
        assert (cb.state, cb.verdict, cb.answer_happened) == ("resolved", "contradicted", "nobody_came")
        assert s.scalar(select(func.count()).select_from(Complaint)) == 1
    # The evidence a supervisor audits: what was heard, how sure, how it was read.
    detail = capi.get(f"/api/v1/callbacks/{cb.id}", "supervisor").get_json()
    attempt = detail["attempts"][0]
    assert attempt["language"] == language
    [heard] = attempt["heard"]
    assert heard["text"] == denial and heard["confidence"] == 0.93 and heard["input"] == "speech"
    assert heard["reading"].startswith("deny: ") and heard["result"] == "nobody_came"
    order = capi.get(f"/api/v1/work-orders/{order_id}", "supervisor").get_json()
    assert order["complaints"] and order["verification"][0]["verdict"] == "contradicted"
    # The audit trail says how the robot read it, never the customer's words (erasable elsewhere).
    with session_factory() as s:
        verdict = s.scalars(select(AuditEvent).where(AuditEvent.action == "verdict")).one()
        assert verdict.data["heard"] == {
            "question": "not_home",
            "input": "speech",
            "read_as": "deny",
            "confidence": 0.93,
            "result": "nobody_came",
        }
        assert not [e for e in s.scalars(select(AuditEvent)) if denial.strip("。.") in str(e.data)]


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_an_unclear_answer_is_asked_again_by_keys(capi, session_factory, language):
    *_, unclear, _, _ = LANGUAGES[language]
    _, attempt_id, sid = not_home_claim(capi, language)
    hook(capi, "voice", call_form(sid, AnsweredBy="human"), attempt=attempt_id)
    again = say(capi, sid, attempt_id, unclear)
    assert 'input="dtmf"' in again and "t=1" in again and "<Hangup" not in again
    with session_factory() as s:
        cb = s.scalars(select(Callback)).one()
        assert cb.state == "in_progress" and cb.verdict is None  # unclear is never a verdict
    hook(capi, "gather", call_form(sid, Digits="2"), attempt=attempt_id, q="claim", t=1)
    with session_factory() as s:
        cb = s.scalars(select(Callback)).one()
        assert cb.verdict == "contradicted"
        heard = s.scalars(select(ContactAttempt)).one().heard
        assert [h["input"] for h in heard] == ["speech", "dtmf"]
        assert heard[0]["result"] is None and heard[0]["reading"].startswith("unclear: conflicting cues")
        [asked_again] = s.scalars(select(AuditEvent).where(AuditEvent.action == "answer_heard")).all()
        assert (asked_again.data["read_as"], asked_again.data["result"]) == ("unclear", None)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_a_low_confidence_yes_confirms_nothing_and_the_callback_moves_on(capi, session_factory, language):
    *_, yes, next_is_a_text = LANGUAGES[language]
    _, attempt_id, sid = not_home_claim(capi, language)
    hook(capi, "voice", call_form(sid, AnsweredBy="human"), attempt=attempt_id)
    again = say(capi, sid, attempt_id, yes, confidence="0.35")
    assert 'input="dtmf"' in again
    # Asked by keys, the customer talks again: words do not count there, however sure.
    end = say(capi, sid, attempt_id, yes, confidence="0.99", t=1)
    assert next_is_a_text in end and "<Gather" not in end
    with session_factory() as s:
        cb = s.scalars(select(Callback)).one()
        assert (cb.state, cb.verdict, cb.next_channel) == ("scheduled", None, "sms")
        assert s.scalar(select(func.count()).select_from(Complaint)) == 0
        attempt = s.scalars(select(ContactAttempt)).one()
        assert attempt.status == "not_answered" and attempt.status_history[-1]["reason"] == "answer_unclear"
        assert "confidence 0.35 below 0.60" in attempt.heard[0]["reading"]


@pytest.mark.parametrize(
    "language, body, happened",
    [
        ("en", "no, nobody came", "nobody_came"),
        ("zh-CN", "没有人来", "nobody_came"),
        ("zh-CN", "对，没错", "confirmed"),
    ],
)
def test_free_text_replies_go_through_the_same_reading(capi, session_factory, language, body, happened):
    _, phone, *_ = LANGUAGES[language]
    _, attempt_id, sid = not_home_claim(capi, language)
    hook(capi, "status", call_form(sid, CallStatus="no-answer"), attempt=attempt_id)
    _, sms_attempt, sms_sid = dial(capi, session_factory, "sms", "SM" + "d" * 32)
    hook(capi, "sms-status", {"MessageSid": sms_sid, "MessageStatus": "delivered"}, attempt=sms_attempt)
    reply = hook(capi, "sms", inbound(body, phone)).get_data(as_text=True)
    assert ("谢谢" if language == "zh-CN" else "Thank you") in reply
    with session_factory() as s:
        cb = s.scalars(select(Callback)).one()
        assert (cb.answer_happened, cb.answer_channel) == (happened, "sms")
        assert s.get(ContactAttempt, sms_attempt).heard[0]["input"] == "sms"


def test_an_unclear_text_is_asked_again_once_then_the_callback_moves_on(capi, session_factory):
    _, phone, *_ = LANGUAGES["zh-CN"]
    _, attempt_id, sid = not_home_claim(capi, "zh-CN")
    hook(capi, "status", call_form(sid, CallStatus="no-answer"), attempt=attempt_id)
    _, sms_attempt, sms_sid = dial(capi, session_factory, "sms", "SM" + "d" * 32)
    hook(capi, "sms-status", {"MessageSid": sms_sid, "MessageStatus": "delivered"}, attempt=sms_attempt)
    first = hook(capi, "sms", inbound("是吧？", phone)).get_data(as_text=True)
    assert "请回复短信中的一个数字" in first
    second = hook(capi, "sms", inbound("对，但是没人来", phone)).get_data(as_text=True)
    assert "我们会给您打电话询问" in second  # the next try is a call, and the text says so
    with session_factory() as s:
        cb = s.scalars(select(Callback)).one()
        assert (cb.state, cb.verdict, cb.next_channel) == ("scheduled", None, "voice")


def test_the_customer_language_overrides_the_city(capi):
    sale = capi.sale(phone="+1 217 555 0177", name="Li Wei")  # Springfield speaks English
    body = {
        "shop": "Main St Appliances",
        "salesperson": "Jo",
        "sold_at": "2026-01-05T10:00:00Z",
        "customer": {
            "name": "Li Wei",
            "phone": "+1 217 555 0177",
            "address": "3 Oak St",
            "city": "Springfield",
        },
        "items": [{"model": "EW-50", "delivery": True, "installation": False}],
    }
    bad = capi.post("/api/v1/sales", "sales", {**body, "customer": {**body["customer"], "language": "fr"}})
    assert bad.status_code == 422 and "customer.language" in bad.get_json()["errors"]
    again = capi.post(
        "/api/v1/sales", "sales", {**body, "customer": {**body["customer"], "language": "zh-CN"}}
    )
    assert again.status_code == 201, again.get_json()
    card = capi.get(f"/api/v1/customers/{sale['customer_id']}", "agent").get_json()
    assert card["language"] == "zh-CN"  # the known customer, now with their own language
    cities = {c["name"]: c["language"] for c in capi.get("/api/v1/cities", "agent").get_json()}
    assert cities["Nanjing"] == "zh-CN" and cities["Springfield"] == "en"
