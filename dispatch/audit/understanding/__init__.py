"""What the customer said, read as a careful person on the callback team would. Pure, no database.

A spoken answer (Twilio's SpeechResult) or a free-text SMS reply is read for one question: the
provider's claim (not home, completed, status check, another reason, customer rescheduled) or the
rating. The result is an *intent* (confirm, deny, reschedule; or a rating) or `unclear`.

How it reads, in order:
1. Keys first: a bare key said as a word ("two", "number three", "按二") means that key.
2. Phrases are matched most specific first and each match is masked, so "nobody was home"
   (agrees with "customer not home") is never read as "nobody came", "no one" never as key 1,
   "没错" (correct) never as a negation, "不好意思" (excuse me) never as "不" (no).
3. A confirming cue with a negation in its scope ("not right", "isn't true", "不对") denies; a
   negation left over anywhere (one no phrase explained) means the answer cannot confirm.
4. Hedges ("I think so", "maybe", "好像"), questions back ("who is this?", "什么？"), cues of
   another topic, and conflicting cues ("yes, but nobody showed up") make the answer unclear.

Only an unambiguous answer yields an intent; everything else is unclear, and unclear is never a
verdict (the robot asks again by keys, then the callback moves on). A recogniser confidence
below the configured floor is unclear too. Each reading names the cue that decided it (evidence
kept with the attempt, for a supervisor auditing the robot).

The parts: cues.py (intents, questions, cue kinds), english.py and mandarin.py (the tables),
reader.py (read, key_pressed, language_of). Everything public is importable from here.
"""

from __future__ import annotations

from dispatch.audit.understanding.cues import (
    CONFIRM,
    DENY,
    NOT_RESCHEDULE,
    NOT_SATISFIED,
    QUESTIONS,
    RESCHEDULE,
    SATISFIED,
    UNCLEAR,
    VERY_SATISFIED,
)
from dispatch.audit.understanding.reader import Reading, key_pressed, language_of, read
from dispatch.platform.languages import ENGLISH, LANGUAGES, MANDARIN

__all__ = [
    "CONFIRM",
    "DENY",
    "ENGLISH",
    "LANGUAGES",
    "MANDARIN",
    "NOT_RESCHEDULE",
    "NOT_SATISFIED",
    "QUESTIONS",
    "RESCHEDULE",
    "Reading",
    "SATISFIED",
    "UNCLEAR",
    "VERY_SATISFIED",
    "key_pressed",
    "language_of",
    "read",
]
