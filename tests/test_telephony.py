"""The telephony gateway (real Twilio SDK against the stand-in), the menus, and the shared rate limit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from urllib.parse import parse_qs, urlsplit

import pytest

from dispatch.audit.callbacks import Prompt
from dispatch.platform.ratelimit import SharedRateLimit
from dispatch.telephony import RejectedError, TransientError, UncertainError, make_gateway, twiml
from dispatch.telephony.simulator import persona_for, sms_answer
from tests.procs import free_port

ACCOUNT = "AC" + "1" * 32
TOKEN = "test-auth-token"


def twilio_settings(base_url: str) -> dict:
    return {
        "TELEPHONY_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM_NUMBER": "+12175550100",
        "TWILIO_API_BASE_URL": base_url,
        "PUBLIC_BASE_URL": "https://dispatch.example.com",
    }


def prompt(claim: str = "customer_not_home") -> Prompt:
    return Prompt(
        callback_id=7,
        claim=claim,
        provider_name="Springfield Heating",
        visit_day="Tuesday 24 November",
        customer_first_name="Mary",
    )


# --- the Twilio gateway, through the SDK ------------------------------------------------------


def test_call_goes_through_the_sdk_with_webhooks_and_machine_detection(standin):
    gateway = make_gateway(twilio_settings(standin.url))
    sid = gateway.place_call("+12175550199", attempt_id=42)

    [req] = standin.calls()
    assert sid == req.sid and sid.startswith("CA")
    assert req.path == f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    assert req.auth == (ACCOUNT, TOKEN)
    assert req.form["To"] == "+12175550199" and req.form["From"] == "+12175550100"
    assert req.form["Url"] == "https://dispatch.example.com/api/v1/twilio/voice?attempt=42"
    assert req.form["StatusCallback"] == "https://dispatch.example.com/api/v1/twilio/status?attempt=42"
    assert req.form["MachineDetection"] == "Enable"
    # The SDK sends a list as repeated fields; the stand-in keeps the last one.
    assert req.form["StatusCallbackEvent"] == "completed"


def test_text_goes_through_the_sdk(standin):
    gateway = make_gateway(twilio_settings(standin.url))
    sid = gateway.send_sms("+12175550199", "Reply 1", attempt_id=43)
    [req] = standin.messages()
    assert sid == req.sid and sid.startswith("SM")
    assert req.form["Body"] == "Reply 1"
    assert req.form["StatusCallback"] == "https://dispatch.example.com/api/v1/twilio/sms-status?attempt=43"


def test_a_text_outside_any_callback_goes_through_the_sdk_without_a_status_webhook(standin):
    gateway = make_gateway(twilio_settings(standin.url))
    sid = gateway.send_text("+12175550199", "Your visit is tomorrow", reference="message-9")
    [req] = standin.messages()
    assert sid == req.sid and sid.startswith("SM")
    assert (req.form["To"], req.form["From"]) == ("+12175550199", "+12175550100")
    assert req.form["Body"] == "Your visit is tomorrow" and "StatusCallback" not in req.form


@pytest.mark.parametrize(
    "status, error",
    [(429, TransientError), (503, TransientError), (500, UncertainError), (400, RejectedError)],
)
def test_twilio_errors_are_sorted_by_whether_retrying_is_safe(standin, status, error):
    standin.fail_with = [status]
    with pytest.raises(error):
        make_gateway(twilio_settings(standin.url)).place_call("+12175550199", attempt_id=1)


def test_unreachable_twilio_is_transient():
    gateway = make_gateway(twilio_settings(f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(TransientError):
        gateway.place_call("+12175550199", attempt_id=1)


# --- menus -----------------------------------------------------------------------------------

GATHER = "https://x.example/api/v1/twilio/gather"


def test_not_home_menu_says_the_claim_and_the_day():
    xml = twiml.voice_menu(prompt(), 5, GATHER)
    assert (
        "Our records say a technician came on Tuesday 24 November and found nobody home. "
        "Press 1 if that is right. Press 2 if you were home and nobody came. "
        "Press 3 if you asked to change the time." in xml
    )
    assert 'action="https://x.example/api/v1/twilio/gather?attempt=5&amp;q=claim&amp;t=0"' in xml
    assert 'input="dtmf speech"' in xml and 'numDigits="1"' in xml


def answer(p: Prompt, q: str, tries: int, key=None, speech=None, confidence="0.9", happened=None):
    """One answer to one question of a call, read as the gather webhook reads it."""
    question = twiml.question_for(p, q)
    reading = twiml.read_input(
        question, key, speech, confidence, language=p.language, floor=0.6, keys_only=tries >= 1
    )
    return twiml.after_input(p, 5, GATHER, question, tries, reading, happened)


@pytest.mark.parametrize("key, happened", [("1", "confirmed"), ("2", "nobody_came"), ("3", "rescheduled")])
def test_not_home_keys(key, happened):
    step = answer(prompt(), "claim", 0, key)
    assert step.answer is not None and step.answer.happened == happened and step.answer.rating is None
    assert "<Hangup" in step.twiml
    assert step.heard["input"] == "dtmf" and step.heard["result"] == happened


def test_completed_asks_done_then_rating():
    first = twiml.voice_menu(prompt("completed"), 5, GATHER)
    assert "Press 1 if the work was done. Press 2 if it was not." in first
    step = answer(prompt("completed"), "done", 0, "1")
    assert step.answer is None and "very satisfied" in step.twiml
    action = step.twiml.split('action="')[1].split('"')[0].replace("&amp;", "&")
    query = parse_qs(urlsplit(action).query)
    assert query["q"] == ["rating"] and query["happened"] == ["done"]
    final = answer(prompt("completed"), "rating", 0, "2", happened="done")
    assert final.answer is not None and (final.answer.happened, final.answer.rating) == ("done", "satisfied")
    not_done = answer(prompt("completed"), "done", 0, "2")
    assert not_done.answer is not None and not_done.answer.happened == "not_done"


def test_invalid_key_asks_again_by_keys_once_then_gives_up():
    again = answer(prompt(), "claim", 0, "7")
    assert again.answer is None and "Please answer with the keys on your phone" in again.twiml
    assert "t=1" in again.twiml and "found nobody home" in again.twiml
    assert 'input="dtmf"' in again.twiml  # keys only the second time
    end = answer(prompt(), "claim", 1, None)
    # The webhook moves the callback on and says what happens next (see test_webhooks).
    assert end.answer is None and end.gave_up and end.twiml is None


@pytest.mark.parametrize(
    "speech, happened",
    [
        ("Yes that's right", "confirmed"),
        ("no, nobody came", "nobody_came"),
        ("That's not right, one of them never showed up", "nobody_came"),
        ("I was not home that day", "confirmed"),
        ("We asked them to change the time", "rescheduled"),
    ],
)
def test_spoken_answers_to_the_not_home_question(speech, happened):
    step = answer(prompt(), "claim", 0, speech=speech)
    assert step.answer is not None and step.answer.happened == happened
    assert (
        step.heard["input"] == "speech" and step.heard["text"] == speech and step.heard["confidence"] == 0.9
    )


@pytest.mark.parametrize(
    "speech",
    ["no one, right?", "yes, but nobody showed up", "that's not correct", "I think so", "hmm"],
)
def test_a_denial_or_an_unclear_answer_never_confirms(speech):
    step = answer(prompt(), "claim", 0, speech=speech)
    assert step.answer is None or step.answer.happened != "confirmed"


def test_an_unclear_spoken_answer_is_asked_again_by_keys():
    step = answer(prompt(), "claim", 0, speech="yes, but nobody showed up")
    assert step.answer is None and 'input="dtmf"' in step.twiml and "t=1" in step.twiml
    assert step.heard["result"] is None and step.heard["reading"].startswith("unclear: conflicting cues")
    # The keys-only question ignores words, however confident.
    again = answer(prompt(), "claim", 1, speech="Yes that's right")
    assert again.answer is None and again.gave_up


def test_a_low_confidence_yes_confirms_nothing():
    step = answer(prompt(), "claim", 0, speech="yes that's right", confidence="0.31")
    assert step.answer is None and "below 0.60" in step.heard["reading"]


def test_an_unclear_rating_is_left_out_not_guessed():
    step = answer(prompt("completed"), "rating", 0, speech="not very satisfied", happened="done")
    assert step.answer is None and 'input="dtmf"' in step.twiml
    end = answer(prompt("completed"), "rating", 1, None, happened="done")
    assert end.answer is not None and (end.answer.happened, end.answer.rating) == ("done", None)


def test_mandarin_prompts_and_answers():
    zh = Prompt(
        callback_id=7,
        claim="customer_not_home",
        provider_name="南京安心水暖服务",
        visit_day="11月24日星期二",
        customer_first_name="王芳",
        language="zh-CN",
    )
    xml = twiml.voice_menu(zh, 5, GATHER)
    assert "王芳您好" in xml and "师傅在11月24日星期二上门时家里没有人" in xml
    assert 'language="cmn-Hans-CN"' in xml and 'voice="Polly.Zhiyu"' in xml
    assert answer(zh, "claim", 0, speech="不对，没有人来").answer.happened == "nobody_came"
    assert answer(zh, "claim", 0, speech="我不在家").answer.happened == "confirmed"
    assert answer(zh, "claim", 0, speech="对，但是没人来").answer is None
    assert answer(zh, "claim", 0, "2").answer.happened == "nobody_came"  # keys mean the same
    assert "回复TD退订" in twiml.sms_text(zh) and "属实请回复1" in twiml.sms_text(zh)
    reply, heard = twiml.read_sms_reply(zh, "没有人来")
    assert reply.happened == "nobody_came" and heard["input"] == "sms"
    assert twiml.read_sms_reply(zh, "是吧？")[0] is None


def parse(p: Prompt, body: str):
    return twiml.read_sms_reply(p, body)[0]


def test_sms_wording_and_reply_codes():
    text = twiml.sms_text(prompt())
    assert "found nobody home" in text and "Reply 1" in text and "STOP" in text
    assert parse(prompt(), " 2 ").happened == "nobody_came"
    assert parse(prompt(), "1 1") is None  # no rating for a not-home claim
    done = parse(prompt("completed"), "1 1")
    assert (done.happened, done.rating) == ("done", "very_satisfied")
    assert parse(prompt("completed"), "11").rating == "very_satisfied"
    assert parse(prompt("completed"), "2").happened == "not_done"
    assert parse(prompt("completed"), "9") is None
    assert parse(prompt(), "no, nobody came").happened == "nobody_came"  # words, read carefully
    assert parse(prompt(), "yes, but nobody came") is None
    worded = parse(prompt("completed"), "Yes it's fixed, very satisfied")
    assert (worded.happened, worded.rating) == ("done", "very_satisfied")
    assert parse(prompt("parts_missing"), "2").happened == "disputed"
    assert "asked to change the time" in twiml.sms_text(prompt("customer_rescheduled"))
    assert parse(prompt("customer_rescheduled"), "3") is None
    for word in ("STOP", "stop", "Unsubscribe", "END.", "quit", "STOPALL", "cancel", "TD", "退订"):
        assert twiml.keyword(word) in twiml.OPT_OUT_WORDS
    assert twiml.keyword("unstop") in twiml.OPT_IN_WORDS


def test_simulated_customers_answer_by_their_number():
    assert persona_for("+12175550105").claim_key == "2"  # disputes
    assert persona_for("+12175550100").claim_key == "1"
    assert persona_for("+12175550108").picks_up == "machine"
    # Every persona's text reply is a valid answer to every kind of question.
    for digit in "01234567":
        persona = persona_for("+1217555010" + digit)
        for claim in (
            "customer_not_home",
            "completed",
            "status_check",
            "parts_missing",
            "customer_rescheduled",
        ):
            text = twiml.sms_text(prompt(claim))
            assert parse(prompt(claim), sms_answer(persona, text)) is not None, (digit, claim)


# --- the shared outbound rate limit ----------------------------------------------------------

_HAMMER = textwrap.dedent(
    """
    import sys, time
    from dispatch.platform.ratelimit import SharedRateLimit
    limit = SharedRateLimit(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    for _ in range(int(sys.argv[4])):
        slot = limit.acquire(timeout=30)
        print(repr(slot), repr(time.time()), flush=True)
    """
)


def test_outbound_rate_limit_holds_across_two_processes(redis_conn):
    from tests.conftest import REDIS, RUN_ID

    key = f"test-{RUN_ID}-calls"
    per_second, each = 4, 8
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _HAMMER, REDIS, key, str(per_second), str(each)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    pairs = [tuple(map(float, line.split())) for out in outs for line in out.splitlines()]
    assert len(pairs) == 2 * each
    # Nobody dialled before their slot came.
    assert all(dialled >= slot - 0.002 for slot, dialled in pairs)
    slots = sorted(slot for slot, _ in pairs)
    # No one-second window holds more than `per_second` slots, whichever process took them.
    for i in range(len(slots) - per_second):
        assert slots[i + per_second] - slots[i] >= 0.999, slots
    # Both processes competed for one limit: 16 slots at 4/s take about 4 s, not 2.
    assert slots[-1] - slots[0] >= (2 * each - 1) / per_second - 0.01
    redis_conn.delete(key)


def test_default_rate_is_one_call_per_second(redis_conn):
    from dispatch.platform.config import DEFAULTS
    from tests.conftest import REDIS, RUN_ID

    assert DEFAULTS["OUTBOUND_CALLS_PER_SECOND"] == 1
    limit = SharedRateLimit(REDIS, f"test-{RUN_ID}-one", DEFAULTS["OUTBOUND_CALLS_PER_SECOND"])
    first, second = limit.acquire(), limit.acquire()
    assert second - first >= 0.999
    # A caller that cannot wait long enough gets no slot (and takes none).
    assert limit.acquire(timeout=0.1) is None
    redis_conn.delete(f"test-{RUN_ID}-one")
