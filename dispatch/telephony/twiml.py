"""The phone menu (TwiML) and the SMS wording, both worded from the provider's claim.

At most two levels: the claim question, then (after "the work was done") the rating. Keys mean the
same by phone and by text. An invalid key repeats the question once; a second one ends the call
politely with nothing recorded (the callback then counts as not answered and moves on).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from dispatch.audit.callbacks import CustomerAnswer, Prompt

VOICE = "Polly.Joanna"
GOODBYE = "Thank you for your answer. Goodbye."
NO_LONGER_NEEDED = "Thank you. Your visit has already been checked, so nothing more is needed. Goodbye."
NOT_UNDERSTOOD = "Sorry, we could not understand your answer. Our service team will call you. Goodbye."
# Standard carrier opt-out and opt-in keywords (Twilio's defaults for long codes).
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})

REASON_WORDS = {
    "customer_rescheduled": "you asked to change the time",
    "parts_missing": "parts were missing",
    "site_not_ready": "the site was not ready",
    "customer_refused": "you did not want the work done",
    "wrong_address": "the address was wrong",
    "other": "of another problem",
}

RATING = {"1": "very_satisfied", "2": "satisfied", "3": "not_satisfied"}


@dataclass(frozen=True)
class Question:
    """One menu level: what is said, and what each key means."""

    key: str
    text: str
    choices: dict[str, str]
    then_rating: frozenset[str] = frozenset()


def menu_kind(claim: str) -> str:
    """not_home | completed | status_check | other_reason."""
    if claim == "customer_not_home":
        return "not_home"
    if claim in ("completed", "status_check"):
        return claim
    return "other_reason"


def first_question(prompt: Prompt) -> Question:
    """The first level, from the provider's claim and the visit day (customer's local time)."""
    day = prompt.visit_day
    kind = menu_kind(prompt.claim)
    if kind == "not_home":
        return Question(
            "claim",
            f"Our records say a technician came on {day} and found nobody home. "
            "Press 1 if that is right. Press 2 if you were home and nobody came. "
            "Press 3 if you asked to change the time.",
            {"1": "confirmed", "2": "nobody_came", "3": "rescheduled"},
        )
    if kind == "completed":
        return Question(
            "done",
            f"Our records say {prompt.provider_name} finished the work at your home on {day}. "
            "Press 1 if the work was done. Press 2 if it was not.",
            {"1": "done", "2": "not_done"},
            then_rating=frozenset({"done"}),
        )
    if kind == "status_check":
        return Question(
            "status",
            f"Your visit from {prompt.provider_name} was booked for {day}. "
            "Press 1 if the work was done. Press 2 if nobody came or the work was not done. "
            "Press 3 if you changed the time.",
            {"1": "done", "2": "not_done", "3": "rescheduled"},
            then_rating=frozenset({"done"}),
        )
    if prompt.claim == "customer_rescheduled":
        return Question(
            "claim",
            f"Our records say the visit on {day} did not take place because you asked to change the time. "
            "Press 1 if that is right. Press 2 if that is not what happened.",
            {"1": "confirmed", "2": "disputed"},
        )
    reason = REASON_WORDS.get(prompt.claim, "of a problem")
    return Question(
        "claim",
        f"Our records say a technician came on {day} and could not finish the work because {reason}. "
        "Press 1 if that is right. Press 2 if that is not what happened. "
        "Press 3 if you asked to change the time.",
        {"1": "confirmed", "2": "disputed", "3": "rescheduled"},
    )


RATING_QUESTION = Question(
    "rating",
    "How satisfied are you with the service? Press 1 if very satisfied. Press 2 if satisfied. "
    "Press 3 if not satisfied.",
    RATING,
)

# Spoken answers understood besides the keys.
_SPOKEN = {
    "1": ("one", "yes", "right", "correct", "very"),
    "2": ("two", "no", "nobody", "wrong"),
    "3": ("three", "changed", "change", "not satisfied", "unhappy"),
}


def key_from_input(digits: str | None, speech: str | None) -> str | None:
    """The menu key pressed or said, or None."""
    if digits:
        return digits.strip()[:1] or None
    if speech:
        words = speech.lower()
        if "not satisfied" in words:
            return "3"
        for key, spoken in _SPOKEN.items():
            if any(re.search(rf"\b{re.escape(w)}\b", words) for w in spoken):
                return key
    return None


def _greeting(prompt: Prompt) -> str:
    name = f" {prompt.customer_first_name}" if prompt.customer_first_name else ""
    return f"Hello{name}. This is the customer service centre, checking on your recent service visit."


def _gather(response: VoiceResponse, question: Question, action: str) -> None:
    gather = Gather(
        input="dtmf speech",
        num_digits=1,
        action=action,
        method="POST",
        timeout=6,
        speech_timeout="auto",
        action_on_empty_result=True,
        hints="one, two, three, yes, no",
    )
    gather.say(question.text, voice=VOICE)
    response.append(gather)


def action_url(
    gather_url: str, attempt_id: int, question: str, tries: int, happened: str | None = None
) -> str:
    """Where Twilio posts the key pressed for one question (state travels in the signed URL)."""
    query: dict[str, str | int] = {"attempt": attempt_id, "q": question, "t": tries}
    if happened:
        query["happened"] = happened
    return f"{gather_url}?{urlencode(query)}"


def voice_menu(prompt: Prompt, attempt_id: int, gather_url: str) -> str:
    """The TwiML for an answered call: greeting and the first question."""
    response = VoiceResponse()
    response.say(_greeting(prompt), voice=VOICE)
    question = first_question(prompt)
    _gather(response, question, action_url(gather_url, attempt_id, question.key, 0))
    return str(response)


def say_and_hang_up(text: str | None) -> str:
    """A closing line (or none, for a machine) and hang up."""
    response = VoiceResponse()
    if text:
        response.say(text, voice=VOICE)
    response.hangup()
    return str(response)


@dataclass(frozen=True)
class Step:
    """What a key press leads to: TwiML to return, and the answer once complete (else None)."""

    twiml: str
    answer: CustomerAnswer | None


def after_key(
    prompt: Prompt,
    attempt_id: int,
    gather_url: str,
    question_key: str,
    tries: int,
    key: str | None,
    happened: str | None = None,
) -> Step:
    """Handle one key press for one question: ask again, ask the rating, or finish."""
    first = first_question(prompt)
    question = RATING_QUESTION if question_key == "rating" else first
    if question_key not in (first.key, "rating") or (question_key == "rating" and not happened):
        return Step(say_and_hang_up(NOT_UNDERSTOOD), None)
    choice = question.choices.get(key or "")
    if choice is None:
        if tries >= 1:
            return Step(say_and_hang_up(NOT_UNDERSTOOD), None)
        response = VoiceResponse()
        response.say("Sorry, that is not one of the choices.", voice=VOICE)
        _gather(response, question, action_url(gather_url, attempt_id, question.key, tries + 1, happened))
        return Step(str(response), None)
    if question_key == "rating":
        return Step(say_and_hang_up(GOODBYE), CustomerAnswer(happened=happened or "", rating=choice))
    if choice in question.then_rating:
        response = VoiceResponse()
        _gather(response, RATING_QUESTION, action_url(gather_url, attempt_id, "rating", 0, choice))
        return Step(str(response), None)
    return Step(say_and_hang_up(GOODBYE), CustomerAnswer(happened=choice))


# --- SMS ---------------------------------------------------------------------------------------


def sms_text(prompt: Prompt) -> str:
    """The text sent when the call was not answered: the same question, with reply codes."""
    day = prompt.visit_day
    kind = menu_kind(prompt.claim)
    hello = f"Hello {prompt.customer_first_name}, " if prompt.customer_first_name else "Hello, "
    tail = " Reply STOP to opt out."
    if kind == "not_home":
        return (
            f"{hello}our records say a technician came on {day} and found nobody home. "
            "Reply 1 if that is right, 2 if you were home and nobody came, "
            "3 if you asked to change the time." + tail
        )
    rating = (
        " If it was done, add your rating: 1 very satisfied, 2 satisfied, 3 not satisfied (for example: 1 1)."
    )
    if kind == "completed":
        return (
            f"{hello}our records say {prompt.provider_name} finished the work at your home on {day}. "
            "Reply 1 if the work was done, 2 if it was not." + rating + tail
        )
    if kind == "status_check":
        return (
            f"{hello}your visit from {prompt.provider_name} was booked for {day}. Reply 1 if the work "
            "was done, 2 if nobody came or it was not done, 3 if you changed the time." + rating + tail
        )
    if prompt.claim == "customer_rescheduled":
        return (
            f"{hello}our records say the visit on {day} did not take place because you asked to change "
            "the time. Reply 1 if that is right, 2 if that is not what happened." + tail
        )
    reason = REASON_WORDS.get(prompt.claim, "of a problem")
    return (
        f"{hello}our records say a technician came on {day} and could not finish the work because "
        f"{reason}. Reply 1 if that is right, 2 if that is not what happened, 3 if you asked to "
        "change the time." + tail
    )


def keyword(body: str) -> str:
    """The reply as one upper-case word (for STOP, START, HELP)."""
    return re.sub(r"[^A-Z]", "", (body or "").strip().upper())


def parse_sms_reply(prompt: Prompt, body: str) -> CustomerAnswer | None:
    """The answer in a text reply ("2", "1 1", "11"), or None if it is not one of the codes."""
    digits = re.findall(r"[0-9]", body or "")
    if not digits or len(digits) > 2 or re.search(r"[A-Za-z]", body or ""):
        return None
    question = first_question(prompt)
    happened = question.choices.get(digits[0])
    if happened is None:
        return None
    rating = None
    if len(digits) == 2:
        if happened not in question.then_rating:
            return None
        rating = RATING.get(digits[1])
        if rating is None:
            return None
    return CustomerAnswer(happened=happened, rating=rating)


def sms_reply(text: str | None) -> str:
    """TwiML answering an inbound text (empty: send nothing back)."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)


HELP_TEXT = (
    "Customer service centre: we check each service visit with you. Reply with the number of "
    "your answer, or STOP to receive no more messages."
)
THANKS_TEXT = "Thank you, your answer has been recorded."
NOT_UNDERSTOOD_TEXT = "Sorry, we did not understand. Please reply with one of the numbers in our message."
