"""A conversation with a customer, one turn at a time: what a key press, words said or a text lead to.

The webhooks (dispatch/api/webhooks.py) check Twilio's signature and call one function here; this
module reads the answer (dispatch.audit.understanding through twiml), keeps what was heard, and
asks again, asks the next question, moves the callback on or records the answer, returning what
to say back. Only an unambiguous answer is recorded; an unclear one is never a verdict.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

import dispatch.contacts  # noqa: F401 - registers every purpose's composer and reply handler
from dispatch import outreach
from dispatch.audit import callbacks
from dispatch.platform import phones
from dispatch.platform.actors import Actor
from dispatch.platform.errors import DomainError
from dispatch.telephony import twiml

log = logging.getLogger(__name__)

VOICE_ROBOT = Actor.system("phone-robot")
SMS_ROBOT = Actor.system("sms")


def no_longer_needed(prompt: callbacks.Prompt | None) -> str:
    """TwiML for a call whose callback has its verdict (in the customer's language when known)."""
    language = prompt.language if prompt is not None else None
    return twiml.say_and_hang_up(twiml.say(language, "no_longer_needed"), language)


def call_answered(session: Session, sid: str, attempt_id: int | None, gather_url: str) -> str:
    """TwiML for a call a person picked up: the greeting and the first question."""
    prompt = callbacks.prompt_for_attempt(session, sid, include_closed=True)
    if prompt is None or not prompt.is_open or attempt_id is None:
        return no_longer_needed(prompt)
    return twiml.voice_menu(prompt, attempt_id, gather_url)


def call_input(
    session: Session,
    *,
    sid: str,
    attempt_id: int | None,
    question_key: str,
    tries: int,
    happened: str | None,
    digits: str | None,
    speech: str | None,
    confidence: str | None,
    gather_url: str,
    settings: Mapping[str, Any],
) -> str:
    """One answer on a call (a key, or words): ask again by keys, the next question, or record it."""
    prompt = callbacks.prompt_for_attempt(session, sid, include_closed=True)
    if prompt is None or not prompt.is_open or attempt_id is None:
        return no_longer_needed(prompt)
    question = twiml.question_for(prompt, question_key)
    if question is None:
        return no_longer_needed(prompt)
    reading = twiml.read_input(
        question,
        digits,
        speech,
        confidence,
        language=prompt.language,
        floor=float(settings["SPEECH_CONFIDENCE_FLOOR"]),
        keys_only=tries >= 1,
    )
    step = twiml.after_input(prompt, attempt_id, gather_url, question, tries, reading, happened)
    heard = step.heard or {}
    if step.answer is not None:
        verdict = callbacks.record_answer(
            session,
            prompt.callback_id,
            step.answer,
            channel="voice",
            actor=VOICE_ROBOT,
            attempt_id=attempt_id,
            heard=heard,
            settings=settings,
        )
        log.info("callback %s answered by phone (%s): %s -> %s", prompt.callback_id, reading.input,
                 step.answer.happened, verdict)  # fmt: skip
        return step.twiml or ""
    if step.gave_up:
        after = callbacks.answer_unclear(session, attempt_id, heard, final=True, settings=settings)
        log.info("callback %s: answer still unclear on the phone; next: %s", prompt.callback_id, after)
        return twiml.give_up(prompt.language, after)
    callbacks.hear(session, attempt_id, heard)
    return step.twiml or ""


def text_received(
    session: Session, phone: str, body: str, settings: Mapping[str, Any], message_sid: str | None = None
) -> str | None:
    """A text from a customer: STOP/退订 and START, HELP, an answer to a verification callback, or a
    reply to another message (dispatch.outreach.replies); returns the reply (None: none)."""
    word = twiml.keyword(body)
    if word in twiml.OPT_OUT_WORDS:
        callbacks.opt_out(session, phone, f"sms:{word}", settings, words=body, message_sid=message_sid)
        log.info("%s opted out by text", phones.masked(phone))
        return None  # Twilio confirms opt-outs itself and would block a reply now.
    if word in twiml.OPT_IN_WORDS:
        callbacks.opt_in(session, phone, f"sms:{word}", settings, words=body, message_sid=message_sid)
        log.info("%s opted back in by text", phones.masked(phone))
        return None
    prompt = callbacks.sms_reply_target(session, phone)
    if word in twiml.HELP_WORDS:
        return twiml.say(prompt.language if prompt else None, "sms_help")
    if prompt is None:
        taken, reply = outreach.replies.reply_received(session, phone, body, settings)
        if not taken:
            log.info("text from %s with no open question; ignored", phones.masked(phone))
        return reply
    answer, heard = twiml.read_sms_reply(prompt, body)
    if answer is None:
        # Unclear: asked again once (by the numbers); the second time the callback moves on.
        after = None
        if prompt.attempt_id is not None:
            after = callbacks.answer_unclear(session, prompt.attempt_id, heard, settings=settings)
        log.info("text answer for callback %s unclear; next: %s", prompt.callback_id, after or "ask again")
        return twiml.say(prompt.language, "sms_not_understood" if after is None else f"sms_next_{after}")
    try:
        verdict = callbacks.record_answer(
            session,
            prompt.callback_id,
            answer,
            channel="sms",
            actor=SMS_ROBOT,
            attempt_id=prompt.attempt_id,
            heard=heard,
            settings=settings,
        )
    except DomainError as exc:
        log.info("text answer for callback %s not recorded: %s", prompt.callback_id, exc.message)
        return None
    log.info("callback %s answered by text: %s -> %s", prompt.callback_id, answer.happened, verdict)
    return twiml.say(prompt.language, "sms_thanks")
