"""The words of the customers' booking texts, in English and Mandarin: short, plain and polite, with
the local day and time window, the provider and the reply word to ask for another time."""

from __future__ import annotations

import re

from dispatch.platform.languages import MANDARIN

# Words a customer may reply to ask for another time (read case-blind, punctuation and spaces off).
CHANGE_WORDS = frozenset({"CHANGE", "RESCHEDULE", "改期", "改时间", "更改"})

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "booked": "Your service visit is booked: {provider} will come on {day}, between {start} and {end}. "
        "Reply CHANGE to ask for another time.",
        "rescheduled": "Your service visit has moved: {provider} will now come on {day}, between {start} and "
        "{end}. Reply CHANGE to ask for another time.",
        "reminder": "Reminder: {provider} will visit you tomorrow, {day}, between {start} and {end}. "
        "Reply CHANGE to ask for another time.",
        "change_taken": "Thank you. Our service team will call you to find another time.",
        "not_understood": "Sorry, we did not understand. Reply CHANGE to ask for another time, or STOP to "
        "receive no more messages.",
        "our_team": "our service team",
    },
    MANDARIN: {
        "booked": "您好，您的上门服务已预约：{provider}将于{day}{start}至{end}上门。如需改期，请回复“改期”。",
        "rescheduled": "您好，您的上门服务时间已更改：{provider}将于{day}{start}至{end}上门。"
        "如需改期，请回复“改期”。",
        "reminder": "温馨提醒：{provider}将于明天（{day}）{start}至{end}上门服务。如需改期，请回复“改期”。",
        "change_taken": "谢谢，我们的客服人员会给您打电话另约时间。",
        "not_understood": "对不起，我们没有明白您的回复。如需改期，请回复“改期”；回复“退订”将不再收到短信。",
        "our_team": "我们的服务人员",
    },
}


def text(language: str, key: str, **values: str) -> str:
    """One text in `language` (English for a language without its own words)."""
    words = TEXTS.get(language, TEXTS["en"])
    return words[key].format(**values)


def asks_for_change(reply: str) -> bool:
    """Whether a reply is the word asking for another time."""
    return re.sub(r"[\s。.!！,，\"“”]", "", reply or "").upper() in CHANGE_WORDS
