"""The vocabulary of readings: intents, questions, cue kinds and topics, and how a table of cues
is compiled (shared by the English and Mandarin tables and the reader)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dispatch.platform.languages import ENGLISH

CONFIRM = "confirm"


DENY = "deny"


RESCHEDULE = "reschedule"


NOT_RESCHEDULE = "not_reschedule"


UNCLEAR = "unclear"


VERY_SATISFIED = "very_satisfied"


SATISFIED = "satisfied"


NOT_SATISFIED = "not_satisfied"


# Questions the robot asks (the menu kinds of dispatch.telephony.twiml, plus the rating).
QUESTIONS = ("not_home", "completed", "status_check", "other_reason", "customer_rescheduled", "rating")


# Cue kinds beyond the intents.
_HEDGE = "hedge"  # makes any answer unclear


_OFF = "off_topic"  # a question back, a wish to talk to a person: unclear


_NEUTRAL = "neutral"  # masked and ignored (fillers, politeness, idioms holding a negation)


_VAGUE = "vague"  # a rating without a level ("fine", "还行"): unclear alone, gives way to a level


# Topics: which questions a cue belongs to; a cue of another topic makes the answer unclear.
_CLAIMS = frozenset(QUESTIONS) - {"rating"}


_PRESENCE = frozenset({"not_home"})


_WORK = frozenset({"completed", "status_check"})


_RATING = frozenset({"rating"})


# Plain yes and no (marked bare): they answer a yes-or-no question, but the status check asks
# which of three things happened, so there they only count beside a cue that says which.
_YES_NO = frozenset({"yes_no"})  # a marker, read as _CLAIMS with bare=True


_ANY = frozenset(QUESTIONS)


@dataclass(frozen=True)
class _Cue:
    pattern: re.Pattern[str]
    intent: str
    topics: frozenset[str]
    negatable: bool = False  # a negation in scope turns a confirming cue into a denial
    bare: bool = False  # a plain yes or no: alone, it cannot answer "which of these happened?"


def _cues(lang: str, rows: list[tuple[Any, ...]]) -> list[_Cue]:
    out = []
    for row in rows:
        pattern, intent, topics = row[0], row[1], row[2]
        negatable = bool(row[3]) if len(row) > 3 else False
        bare = topics == _YES_NO
        topics = _CLAIMS if bare else topics
        if lang == ENGLISH:
            regex = re.compile(rf"(?<![a-z0-9_])(?:{pattern})(?![a-z0-9_])")
        else:
            regex = re.compile(pattern)
        out.append(_Cue(regex, intent, topics, negatable, bare))
    return out
