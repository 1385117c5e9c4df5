"""The phone menu (TwiML) and the SMS wording, worded from the provider's claim, in the customer's language.

At most two levels: the claim question, then (after "the work was done") the rating. Keys mean the
same by phone and by text, in every language. A customer may also answer in words (speech on the
call, free text by SMS): dispatch.audit.understanding reads them, and only an unambiguous answer
counts. An unclear answer (or an invalid key) is asked again once, by keys only; still unclear, the
robot says what happens next (a text, another call, or a person from the service team) and the
callback moves on as not answered. A rating still unclear is left out; the claim's answer stands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from dispatch.audit import understanding as u
from dispatch.audit.callbacks import CustomerAnswer, Prompt

# Standard carrier opt-out and opt-in keywords (Twilio's defaults for long codes), and the
# Mandarin ones carriers in China honour (退订, TD).
OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "TD"}
)
OPT_OUT_PHRASES = frozenset({"退订", "退定", "取消订阅"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
HELP_PHRASES = frozenset({"帮助"})

RATING = {"1": "very_satisfied", "2": "satisfied", "3": "not_satisfied"}


@dataclass(frozen=True)
class Voice:
    """How the robot speaks and listens in one language (Twilio <Say> and <Gather> attributes)."""

    say_language: str
    voice: str
    listen_language: str
    hints: str


VOICES = {
    u.ENGLISH: Voice("en-US", "Polly.Joanna", "en-US", "one, two, three, yes, no, nobody came"),
    u.MANDARIN: Voice(
        "cmn-CN", "Polly.Zhiyu", "cmn-Hans-CN", "一, 二, 三, 是, 不是, 对, 不对, 没有人来, 满意"
    ),
}

# Every sentence the robot says or texts, per language. {day} is the visit day in the customer's
# local time, {provider} the provider's name, {reason} the claimed reason, {name} the customer.
TEXTS: dict[str, dict[str, str]] = {
    u.ENGLISH: {
        "hello": "Hello{name}. This is the customer service centre, checking on your recent service visit.",
        "not_home": "Our records say a technician came on {day} and found nobody home. Press 1 if that is "
        "right. Press 2 if you were home and nobody came. Press 3 if you asked to change the time.",
        "completed": "Our records say {provider} finished the work at your home on {day}. Press 1 if the "
        "work was done. Press 2 if it was not.",
        "status_check": "Your visit from {provider} was booked for {day}. Press 1 if the work was done. "
        "Press 2 if nobody came or the work was not done. Press 3 if you changed the time.",
        "customer_rescheduled": "Our records say the visit on {day} did not take place because you asked "
        "to change the time. Press 1 if that is right. Press 2 if that is not what happened.",
        "other_reason": "Our records say a technician came on {day} and could not finish the work because "
        "{reason}. Press 1 if that is right. Press 2 if that is not what happened. Press 3 if you asked "
        "to change the time.",
        "rating": "How satisfied are you with the service? Press 1 if very satisfied. Press 2 if "
        "satisfied. Press 3 if not satisfied.",
        "again_by_keys": "Sorry, I did not understand. Please answer with the keys on your phone.",
        "goodbye": "Thank you for your answer. Goodbye.",
        "no_longer_needed": "Thank you. Your visit has already been checked, so nothing more is needed. Goodbye.",
        "next_sms": "Sorry, we could not understand your answer. We will send you a text message instead. Goodbye.",
        "next_voice": "Sorry, we could not understand your answer. We will call you again later. Goodbye.",
        "next_human": "Sorry, we could not understand your answer. Someone from our service team will call "
        "you. Goodbye.",
        # SMS
        "sms_hello": "Hello {name}, ",
        "sms_hello_anonymous": "Hello, ",
        "sms_not_home": "our records say a technician came on {day} and found nobody home. Reply 1 if that "
        "is right, 2 if you were home and nobody came, 3 if you asked to change the time.",
        "sms_completed": "our records say {provider} finished the work at your home on {day}. Reply 1 if "
        "the work was done, 2 if it was not.",
        "sms_status_check": "your visit from {provider} was booked for {day}. Reply 1 if the work was done, "
        "2 if nobody came or it was not done, 3 if you changed the time.",
        "sms_customer_rescheduled": "our records say the visit on {day} did not take place because you "
        "asked to change the time. Reply 1 if that is right, 2 if that is not what happened.",
        "sms_other_reason": "our records say a technician came on {day} and could not finish the work "
        "because {reason}. Reply 1 if that is right, 2 if that is not what happened, 3 if you asked to "
        "change the time.",
        "sms_rating": " If it was done, add your rating: 1 very satisfied, 2 satisfied, 3 not satisfied "
        "(for example: 1 1).",
        "sms_tail": " Reply STOP to opt out.",
        "sms_help": "Customer service centre: we check each service visit with you. Reply with the number "
        "of your answer, or STOP to receive no more messages.",
        "sms_thanks": "Thank you, your answer has been recorded.",
        "sms_not_understood": "Sorry, we did not understand. Please reply with one of the numbers in our message.",
        "sms_next_voice": "Sorry, we did not understand your answer. We will call you to ask.",
        "sms_next_sms": "Sorry, we did not understand your answer. We will text you again later.",
        "sms_next_human": "Sorry, we did not understand your answer. Someone from our service team will call you.",
    },
    u.MANDARIN: {
        "hello": "{name}您好，这里是客户服务中心，想跟您核实一下最近的上门服务。",
        "not_home": "我们的记录显示，师傅在{day}上门时家里没有人。如果属实，请按1。如果您当时在家但没有人来，"
        "请按2。如果是您要求改时间，请按3。",
        "completed": "我们的记录显示，{provider}已于{day}在您家完成服务。如果已经完成，请按1。如果没有完成，请按2。",
        "status_check": "您预约了{provider}在{day}上门服务。如果服务已经完成，请按1。如果没有人来或者没有完成，"
        "请按2。如果您改了时间，请按3。",
        "customer_rescheduled": "我们的记录显示，{day}的上门服务因为您要求改时间而没有进行。如果属实，请按1。"
        "如果不是这样，请按2。",
        "other_reason": "我们的记录显示，师傅在{day}上门，但因为{reason}没能完成服务。如果属实，请按1。"
        "如果不是这样，请按2。如果是您要求改时间，请按3。",
        "rating": "您对这次服务满意吗？非常满意请按1，满意请按2，不满意请按3。",
        "again_by_keys": "对不起，我没有听明白。请用电话按键回答。",
        "goodbye": "谢谢您的回答，再见。",
        "no_longer_needed": "谢谢。您的服务已经核实过了，不需要再回答。再见。",
        "next_sms": "对不起，我们没能听明白您的回答。我们会给您发一条短信。再见。",
        "next_voice": "对不起，我们没能听明白您的回答。我们稍后会再给您打电话。再见。",
        "next_human": "对不起，我们没能听明白您的回答。我们的客服人员会给您打电话。再见。",
        "sms_hello": "{name}您好，",
        "sms_hello_anonymous": "您好，",
        "sms_not_home": "我们的记录显示，师傅在{day}上门时家里没有人。属实请回复1，您在家但没有人来请回复2，"
        "您要求改时间请回复3。",
        "sms_completed": "我们的记录显示，{provider}已于{day}在您家完成服务。已完成请回复1，没有完成请回复2。",
        "sms_status_check": "您预约了{provider}在{day}上门服务。已完成请回复1，没有人来或没有完成请回复2，"
        "您改了时间请回复3。",
        "sms_customer_rescheduled": "我们的记录显示，{day}的上门服务因为您要求改时间而没有进行。属实请回复1，"
        "不是这样请回复2。",
        "sms_other_reason": "我们的记录显示，师傅在{day}上门，但因为{reason}没能完成服务。属实请回复1，"
        "不是这样请回复2，您要求改时间请回复3。",
        "sms_rating": "如已完成，请同时回复满意度：1非常满意，2满意，3不满意（例如：1 1）。",
        "sms_tail": "回复TD退订。",
        "sms_help": "客户服务中心：我们会跟您核实每一次上门服务。请回复对应的数字，回复TD不再接收短信。",
        "sms_thanks": "谢谢，您的回答已记录。",
        "sms_not_understood": "对不起，我们没有看明白。请回复短信中的一个数字。",
        "sms_next_voice": "对不起，我们没有看明白您的回答。我们会给您打电话询问。",
        "sms_next_sms": "对不起，我们没有看明白您的回答。我们稍后会再发短信给您。",
        "sms_next_human": "对不起，我们没有看明白您的回答。我们的客服人员会给您打电话。",
    },
}

REASONS = {
    u.ENGLISH: {
        "customer_rescheduled": "you asked to change the time",
        "parts_missing": "parts were missing",
        "site_not_ready": "the site was not ready",
        "customer_refused": "you did not want the work done",
        "wrong_address": "the address was wrong",
        "other": "of another problem",
        None: "of a problem",
    },
    u.MANDARIN: {
        "customer_rescheduled": "您要求改时间",
        "parts_missing": "缺少配件",
        "site_not_ready": "安装现场还没准备好",
        "customer_refused": "您不需要这项服务",
        "wrong_address": "地址有误",
        "other": "其他问题",
        None: "出现问题",
    },
}
# Kept for callers that word English reasons (the complaint summary, older tests).
REASON_WORDS = {k: v for k, v in REASONS[u.ENGLISH].items() if k is not None}


def texts(language: str | None) -> dict[str, str]:
    """The sentences for a language (English when the language is not one Dispatch speaks)."""
    return TEXTS.get(language or u.ENGLISH, TEXTS[u.ENGLISH])


def say(language: str | None, name: str) -> str:
    """One fixed sentence in a language (goodbye, no longer needed, ...)."""
    return texts(language)[name]


@dataclass(frozen=True)
class Question:
    """One menu level: what is said, what each key means, and which key each spoken intent stands for."""

    key: str
    kind: str  # the question, as dispatch.audit.understanding knows it
    text: str
    choices: dict[str, str]
    intents: dict[str, str]
    then_rating: frozenset[str] = frozenset()

    def key_for(self, reading: u.Reading) -> str | None:
        """The key an answer stands for, or None (unclear, or a key this question does not offer)."""
        key: str | None
        if reading.intent.startswith("key:"):
            key = reading.intent[4:]
        else:
            key = self.intents.get(reading.intent)
        return key if key in self.choices else None


_YES_NO_MOVE = {u.CONFIRM: "1", u.DENY: "2", u.RESCHEDULE: "3"}


def menu_kind(claim: str) -> str:
    """not_home | completed | status_check | customer_rescheduled | other_reason."""
    if claim == "customer_not_home":
        return "not_home"
    if claim in ("completed", "status_check", "customer_rescheduled"):
        return claim
    return "other_reason"


def _words(prompt: Prompt) -> dict[str, str]:
    lang = prompt.language if prompt.language in TEXTS else u.ENGLISH
    reasons = REASONS[lang]
    return {
        "day": prompt.visit_day,
        "provider": prompt.provider_name,
        "reason": reasons.get(prompt.claim, reasons[None]),
        "name": prompt.customer_first_name,
    }


def first_question(prompt: Prompt) -> Question:
    """The first level, from the provider's claim and the visit day (customer's local time)."""
    kind = menu_kind(prompt.claim)
    text = texts(prompt.language)[kind].format(**_words(prompt))
    if kind == "not_home":
        return Question(
            "claim", kind, text, {"1": "confirmed", "2": "nobody_came", "3": "rescheduled"}, _YES_NO_MOVE
        )
    if kind == "completed":
        # "I asked to move it" against "finished on Tuesday" could mean done another day: unclear.
        intents = {u.CONFIRM: "1", u.DENY: "2"}
        return Question("done", kind, text, {"1": "done", "2": "not_done"}, intents, frozenset({"done"}))
    if kind == "status_check":
        choices = {"1": "done", "2": "not_done", "3": "rescheduled"}
        return Question("status", kind, text, choices, _YES_NO_MOVE, frozenset({"done"}))
    if kind == "customer_rescheduled":
        # The customer saying they asked to move it confirms this claim.
        intents = {u.CONFIRM: "1", u.DENY: "2", u.RESCHEDULE: "1"}
        return Question("claim", kind, text, {"1": "confirmed", "2": "disputed"}, intents)
    return Question(
        "claim", kind, text, {"1": "confirmed", "2": "disputed", "3": "rescheduled"}, _YES_NO_MOVE
    )


def rating_question(language: str | None) -> Question:
    """The second level, asked after "the work was done"."""
    intents = {u.VERY_SATISFIED: "1", u.SATISFIED: "2", u.NOT_SATISFIED: "3"}
    return Question("rating", "rating", texts(language)["rating"], RATING, intents)


def read_input(
    question: Question,
    digits: str | None,
    speech: str | None,
    confidence: str | None,
    *,
    language: str | None,
    floor: float,
    keys_only: bool = False,
) -> u.Reading:
    """What the customer answered on the call: a key (always wins), else their words, read carefully."""
    if digits and digits.strip():
        return u.key_pressed(digits.strip()[:1])
    if keys_only or not speech:
        return u.Reading(u.UNCLEAR, "no key pressed", speech or None, None, language or u.ENGLISH, "dtmf")
    try:
        score: float | None = float(confidence) if confidence not in (None, "") else None
    except ValueError:
        score = None
    return u.read(speech, question.kind, language=language, confidence=score, floor=floor, input="speech")


def _gather(
    response: VoiceResponse, question: Question, action: str, language: str | None, *, keys_only: bool
) -> None:
    voice = VOICES.get(language or u.ENGLISH, VOICES[u.ENGLISH])
    options: dict[str, object] = {}
    if not keys_only:
        options = {"speech_timeout": "auto", "language": voice.listen_language, "hints": voice.hints}
    gather = Gather(
        input="dtmf" if keys_only else "dtmf speech",
        num_digits=1,
        action=action,
        method="POST",
        timeout=6,
        action_on_empty_result=True,
        **options,
    )
    gather.say(question.text, voice=voice.voice, language=voice.say_language)
    response.append(gather)


def _say(response: VoiceResponse, text: str, language: str | None) -> None:
    voice = VOICES.get(language or u.ENGLISH, VOICES[u.ENGLISH])
    response.say(text, voice=voice.voice, language=voice.say_language)


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
    name = prompt.customer_first_name
    hello = texts(prompt.language)["hello"]
    _say(
        response,
        hello.format(name=(f" {name}" if prompt.language == u.ENGLISH and name else name)),
        prompt.language,
    )
    question = first_question(prompt)
    _gather(
        response,
        question,
        action_url(gather_url, attempt_id, question.key, 0),
        prompt.language,
        keys_only=False,
    )
    return str(response)


def say_and_hang_up(text: str | None, language: str | None = None) -> str:
    """A closing line (or none, for a machine) and hang up."""
    response = VoiceResponse()
    if text:
        _say(response, text, language)
    response.hangup()
    return str(response)


def give_up(language: str | None, next_contact: str | None) -> str:
    """The goodbye after an answer still unclear, saying truly what happens next."""
    return say_and_hang_up(say(language, f"next_{next_contact or 'human'}"), language)


@dataclass(frozen=True)
class Step:
    """What an answer leads to: TwiML to return (None: the caller says what comes next and hangs
    up), the answer once complete, and what was heard (evidence for the attempt)."""

    twiml: str | None
    answer: CustomerAnswer | None
    heard: dict | None = None
    gave_up: bool = False


def question_for(prompt: Prompt, question_key: str) -> Question | None:
    """The question a Gather's `q` names (None: not one of this call's)."""
    first = first_question(prompt)
    if question_key == "rating":
        return rating_question(prompt.language)
    return first if question_key == first.key else None


def after_input(
    prompt: Prompt,
    attempt_id: int,
    gather_url: str,
    question: Question,
    tries: int,
    reading: u.Reading,
    happened: str | None = None,
) -> Step:
    """Handle one answer to one question: ask again by keys, ask the rating, or finish."""
    lang = prompt.language
    if question.key == "rating" and not happened:
        return Step(None, None, reading.evidence(question.kind, None), gave_up=True)
    key = question.key_for(reading)
    choice = question.choices.get(key or "")
    heard = reading.evidence(question.kind, choice)
    if choice is None:
        if tries < 1:
            response = VoiceResponse()
            _say(response, texts(lang)["again_by_keys"], lang)
            url = action_url(gather_url, attempt_id, question.key, tries + 1, happened)
            _gather(response, question, url, lang, keys_only=True)
            return Step(str(response), None, heard)
        if question.key == "rating":
            # The claim was answered; a rating still unclear is left out, never guessed.
            return Step(say_and_hang_up(say(lang, "goodbye"), lang), CustomerAnswer(happened or ""), heard)
        return Step(None, None, heard, gave_up=True)
    if question.key == "rating":
        answer = CustomerAnswer(happened=happened or "", rating=choice)
        return Step(say_and_hang_up(say(lang, "goodbye"), lang), answer, heard)
    if choice in question.then_rating:
        response = VoiceResponse()
        rating = rating_question(lang)
        _gather(
            response, rating, action_url(gather_url, attempt_id, "rating", 0, choice), lang, keys_only=False
        )
        return Step(str(response), None, heard)
    return Step(say_and_hang_up(say(lang, "goodbye"), lang), CustomerAnswer(happened=choice), heard)


# --- SMS ---------------------------------------------------------------------------------------


def sms_text(prompt: Prompt) -> str:
    """The text sent when the call was not answered: the same question, with reply codes."""
    words = _words(prompt)
    t = texts(prompt.language)
    kind = menu_kind(prompt.claim)
    hello = t["sms_hello"].format(**words) if prompt.customer_first_name else t["sms_hello_anonymous"]
    rating = t["sms_rating"] if kind in ("completed", "status_check") else ""
    return hello + t[f"sms_{kind}"].format(**words) + rating + t["sms_tail"]


def keyword(body: str) -> str:
    """The reply as one upper-case word (for STOP, START, HELP), or the Chinese phrase (退订, 帮助)."""
    stripped = re.sub(r"[\s。.!！]", "", body or "")
    if stripped in OPT_OUT_PHRASES:
        return "STOP"
    if stripped in HELP_PHRASES:
        return "HELP"
    return re.sub(r"[^A-Z]", "", (body or "").strip().upper())


def read_sms_reply(prompt: Prompt, body: str) -> tuple[CustomerAnswer | None, dict]:
    """The answer in a text reply ("2", "1 1", "11", or words), and what was read (evidence).

    Codes are read as before; free text ("no, nobody came", "没有人来") goes through the same
    careful reading as speech. None when the reply is not an unambiguous answer.
    """
    question = first_question(prompt)
    body = body or ""
    digits = re.findall(r"[0-9]", body)
    if digits and not re.search(r"[^\d\s,.;:+\-/]", body):
        # Codes only: "2", "1 1", "11".
        happened = question.choices.get(digits[0]) if len(digits) <= 2 else None
        rating = RATING.get(digits[1]) if happened and len(digits) == 2 else None
        ok = happened is not None and (len(digits) == 1 or (happened in question.then_rating and rating))
        intent = f"key:{digits[0]}" if ok else u.UNCLEAR
        reading = u.Reading(
            intent, f"codes {' '.join(digits)}", body, None, prompt.language or u.ENGLISH, "sms"
        )
        heard = reading.evidence(question.kind, happened if ok else None)
        return (CustomerAnswer(happened=happened or "", rating=rating) if ok else None), heard
    reading = u.read(body, question.kind, language=prompt.language, input="sms")
    happened = question.choices.get(question.key_for(reading) or "")
    heard = reading.evidence(question.kind, happened)
    if happened is None:
        return None, heard
    rating = None
    if happened in question.then_rating:
        rated = u.read(body, "rating", language=prompt.language, input="sms")
        rating = RATING.get(rating_question(prompt.language).key_for(rated) or "")
        heard["rating"] = rating
        heard["rating_reading"] = f"{rated.intent}: {rated.cue}"
    return CustomerAnswer(happened=happened, rating=rating), heard


def sms_reply(text: str | None) -> str:
    """TwiML answering an inbound text (empty: send nothing back)."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)
