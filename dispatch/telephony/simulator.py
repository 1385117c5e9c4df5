"""The `simulator` backend: a built-in phone network with simulated customers.

Placing a call or sending a text returns a Twilio-shaped sid at once and schedules the customer's
reaction a moment later. The customer then behaves like Twilio on their behalf: it posts correctly
signed webhooks to PUBLIC_BASE_URL (the same handlers Twilio calls), reads the TwiML menu it gets
back, presses keys, and replies to texts. So a simulated day exercises the real path end to end.

How a simulated customer behaves is decided by the last digit of their number (the scenario):
  0-2  answers and confirms the provider's claim; very satisfied
  3    answers and confirms; satisfied
  4    answers and confirms; not satisfied
  5    answers and disputes the claim: was home and nobody came / the work was not done
  6    answers: asked to change the time (a completed job: confirms, satisfied)
  7    never picks up the phone, but answers the text (confirms, very satisfied)
  8    voicemail picks up (answering machine); never replies to texts
  9    never picks up; replies STOP to the text
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, TypedDict
from urllib.parse import parse_qs, urlsplit

import requests
from twilio.request_validator import RequestValidator

from dispatch.platform.phones import masked
from dispatch.telephony.gateway import Schedule, caller_number, signing_token, webhook_url

log = logging.getLogger(__name__)

ACCOUNT_SID = "AC" + "0" * 32


@dataclass(frozen=True)
class Persona:
    """What a simulated customer does when called or texted."""

    name: str
    picks_up: str  # "human" | "machine" | "no-answer" | "busy"
    claim_key: str  # key for the first question ("1" right, "2" disputes, "3" rescheduled)
    rating_key: str  # key for the rating question
    sms_reply: str | None  # None: never replies; "STOP"; or "answer"
    speaks: bool = False  # answers in words (speech on the call, free text by SMS) instead of keys


PERSONAS: dict[str, Persona] = {
    "0": Persona("very satisfied", "human", "1", "1", "answer"),
    "1": Persona("very satisfied", "human", "1", "1", "answer"),
    "2": Persona("very satisfied", "human", "1", "1", "answer"),
    "3": Persona("satisfied, says so", "human", "1", "2", "answer", speaks=True),
    "4": Persona("not satisfied", "human", "1", "3", "answer"),
    "5": Persona("disputes the claim, says so", "human", "2", "3", "answer", speaks=True),
    "6": Persona("asked to reschedule", "human", "3", "2", "answer"),
    "7": Persona("answers texts only", "no-answer", "1", "1", "answer"),
    "8": Persona("voicemail, never replies", "machine", "1", "1", None),
    "9": Persona("misses calls, texts STOP", "no-answer", "1", "1", "STOP"),
}


def persona_for(number: str) -> Persona:
    """The simulated customer behind a number (by its last digit)."""
    digits = [c for c in number if c.isdigit()]
    return PERSONAS[digits[-1] if digits else "0"]


def new_sid(prefix: str) -> str:
    """A Twilio-shaped sid: two letters and 32 hex digits."""
    return prefix + uuid.uuid4().hex


class SimulatorGateway:
    """Places simulated calls and texts; the customer reacts in a scheduled job."""

    backend = "simulator"

    def __init__(self, settings: dict[str, Any], schedule: Schedule) -> None:
        self.settings = settings
        self.schedule = schedule

    def place_call(self, to: str, attempt_id: int) -> str:
        """Ring the simulated customer; returns the CallSid."""
        sid = new_sid("CA")
        self.schedule(
            "dispatch.jobs.callbacks.simulated_call",
            float(self.settings["SIMULATOR_ANSWER_SECONDS"]),
            {"sid": sid, "to": to, "attempt_id": attempt_id},
        )
        return sid

    def send_sms(self, to: str, body: str, attempt_id: int) -> str:
        """Text the simulated customer; returns the MessageSid."""
        sid = new_sid("SM")
        self.schedule(
            "dispatch.jobs.callbacks.simulated_sms",
            float(self.settings["SIMULATOR_ANSWER_SECONDS"]),
            {"sid": sid, "to": to, "attempt_id": attempt_id, "body": body},
        )
        return sid

    def send_text(self, to: str, body: str, reference: str) -> str:
        """A text that belongs to no callback attempt: the simulated phone takes it; returns a MessageSid."""
        sid = new_sid("SM")
        log.info("simulated text %s to %s (%s, %d characters)", sid, masked(to), reference, len(body))
        return sid


_http = threading.local()


def _session() -> requests.Session:
    """One HTTP session per thread for every simulated phone (not rebuilt per call)."""
    if not hasattr(_http, "session"):
        session = requests.Session()
        # The simulator posts to PUBLIC_BASE_URL itself: no proxy or .netrc from the environment
        # (reading them was 5% of a callback job's CPU).
        session.trust_env = False
        _http.session = session
    return _http.session


class Phone:
    """Posts signed webhooks to the app, as Twilio does."""

    def __init__(self, settings: dict[str, Any], http: requests.Session | None = None) -> None:
        self.settings = settings
        self.validator = RequestValidator(signing_token(settings))
        self.http = http or _session()

    def post(self, url: str, params: dict[str, str]) -> requests.Response:
        """POST form `params` to `url` with Twilio's signature over URL and params."""
        signature = self.validator.compute_signature(url, params)
        response = self.http.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)
        response.raise_for_status()
        return response


class _Spoken(TypedDict):
    claim: dict[str, str]  # key -> words, for a claim
    done: str  # "it was done", for a question about the work
    rating: dict[str, str]  # key -> words, for the rating


# What a speaking persona says for each key, by the language it is asked in.
SPOKEN: dict[str, _Spoken] = {
    "en": {
        "claim": {
            "1": "Yes, that's right.",
            "2": "No, that's not right. Nobody came.",
            "3": "I asked them to change the time.",
        },
        "done": "Yes, the work was done.",
        "rating": {"1": "Very satisfied.", "2": "Satisfied, thank you.", "3": "Not satisfied."},
    },
    "zh": {
        "claim": {"1": "对，没错。", "2": "不对，没有人来。", "3": "是我要求改时间的。"},
        "done": "是的，已经做完了。",
        "rating": {"1": "非常满意。", "2": "满意。", "3": "不满意。"},
    },
}
_OFFERS_3 = re.compile(r"Press 3|3 if|按3|回复3")
_ASKS_DONE = re.compile(r"work was done|已经完成|已完成")


def _words(language: str, question: str, key: str, said: str) -> str:
    """What a speaking persona says for `key`: "that's right" to a claim, "it was done" to work."""
    spoken = SPOKEN[language]
    if question == "rating":
        return spoken["rating"][key]
    if key == "1" and _ASKS_DONE.search(said):
        return spoken["done"]
    return spoken["claim"][key]


def _next_gather(twiml: str) -> tuple[str | None, str, bool, str]:
    """The Gather's action URL (None if it hangs up), what is said, whether words are heard, the language."""
    root = ET.fromstring(twiml)
    said = " ".join(el.text or "" for el in root.iter("Say"))
    gather = root.find("Gather")
    if gather is None:
        return None, said, False, "en"
    language = "zh" if (gather.get("language") or "").startswith(("cmn", "zh")) else "en"
    return gather.get("action"), said, "speech" in (gather.get("input") or ""), language


def run_call(settings: dict[str, Any], sid: str, to: str, attempt_id: int) -> str:
    """Play one simulated call to its end; returns what happened (for logs and tests)."""
    persona = persona_for(to)
    phone = Phone(settings)
    base = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": sid,
        "From": caller_number(settings),
        "To": to,
        "Direction": "outbound-api",
        "ApiVersion": "2010-04-01",
    }
    status_url = webhook_url(settings, "status", attempt=attempt_id)
    if persona.picks_up in ("no-answer", "busy"):
        phone.post(status_url, {**base, "CallStatus": persona.picks_up, "CallDuration": "0"})
        log.info("simulated %s: %s", masked(to), persona.picks_up)
        return persona.picks_up
    answered_by = "machine_end_beep" if persona.picks_up == "machine" else "human"
    phone.post(status_url, {**base, "CallStatus": "in-progress", "AnsweredBy": answered_by})
    reply = phone.post(
        webhook_url(settings, "voice", attempt=attempt_id),
        {**base, "CallStatus": "in-progress", "AnsweredBy": answered_by},
    ).text
    keys: list[str] = []
    action, said, listens, language = _next_gather(reply)
    while action is not None and len(keys) < 6:
        question = parse_qs(urlsplit(action).query).get("q", [""])[0]
        key = persona.rating_key if question == "rating" else _claim_key(persona, said)
        if persona.speaks and listens:
            words = _words(language, question, key, said)
            keys.append(repr(words))
            answer = {"SpeechResult": words, "Confidence": "0.92"}
        else:
            keys.append(key)
            answer = {"Digits": key}
        reply = phone.post(action, {**base, "CallStatus": "in-progress", **answer}).text
        action, said, listens, language = _next_gather(reply)
    phone.post(
        status_url,
        {
            **base,
            "CallStatus": "completed",
            "AnsweredBy": answered_by,
            "CallDuration": str(10 + 8 * len(keys)),
        },
    )
    outcome = f"{answered_by} answered {' '.join(keys) or 'nothing'}"
    log.info("simulated call to %s: %s", masked(to), outcome)
    return outcome


def _claim_key(persona: Persona, question: str) -> str:
    # A customer who asked to reschedule, asked only "was the work done?", says it was.
    if persona.claim_key == "3" and not _OFFERS_3.search(question):
        return "1"
    return persona.claim_key


def sms_answer(persona: Persona, body: str) -> str:
    """What a persona texts back to one of our messages: codes, or words for one who speaks."""
    key = _claim_key(persona, body)
    rated = ("rating" in body or "满意度" in body) and key == "1"
    if persona.speaks:
        language = "zh" if re.search(r"[\u4e00-\u9fff]", body) else "en"
        words = _words(language, "claim", key, body)
        return f"{words} {_words(language, 'rating', persona.rating_key, body)}" if rated else words
    return f"{key} {persona.rating_key}" if rated else key


def run_sms(settings: dict[str, Any], sid: str, to: str, attempt_id: int, body: str) -> str:
    """Deliver one simulated text and the customer's reply, if any; returns what happened."""
    persona = persona_for(to)
    phone = Phone(settings)
    base = {"AccountSid": ACCOUNT_SID, "MessageSid": sid, "From": caller_number(settings), "To": to}
    status_url = webhook_url(settings, "sms-status", attempt=attempt_id)
    phone.post(status_url, {**base, "MessageStatus": "sent"})
    phone.post(status_url, {**base, "MessageStatus": "delivered"})
    if persona.sms_reply is None:
        log.info("simulated text to %s: delivered, no reply", masked(to))
        return "no reply"
    text = "STOP" if persona.sms_reply == "STOP" else sms_answer(persona, body)
    phone.post(
        webhook_url(settings, "sms"),
        {
            "AccountSid": ACCOUNT_SID,
            "MessageSid": new_sid("SM"),
            "From": to,
            "To": caller_number(settings),
            "Body": text,
            "NumMedia": "0",
        },
    )
    log.info("simulated text to %s: replied %r", masked(to), text)
    return f"replied {text}"
