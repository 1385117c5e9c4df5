"""Reading one answer for one question: keys first, then cues most specific first (masked as
matched), negations in scope, hedges and conflicts; only an unambiguous answer gives an intent."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from dispatch.audit.understanding.cues import (
    _CLAIMS,
    _HEDGE,
    _NEUTRAL,
    _OFF,
    _PRESENCE,
    _RATING,
    _VAGUE,
    _WORK,
    CONFIRM,
    DENY,
    NOT_RESCHEDULE,
    NOT_SATISFIED,
    QUESTIONS,
    RESCHEDULE,
    SATISFIED,
    UNCLEAR,
    VERY_SATISFIED,
    _Cue,
)
from dispatch.audit.understanding.english import (
    _EN_CONTRACTIONS,
    _EN_CUES,
    _EN_FILLERS,
    _EN_KEY,
    _EN_KEYS,
    _EN_NEGATORS,
)
from dispatch.audit.understanding.mandarin import _CJK, _ZH_CUES, _ZH_FILLERS, _ZH_KEY, _ZH_KEYS, _ZH_NEGATORS
from dispatch.platform.languages import ENGLISH, LANGUAGES, MANDARIN

_FOREIGN = "foreign"  # plan mode: a cue of a topic the question did not ask about


_OWN = "own"


def _plan(cues: list[_Cue], question: str) -> list[tuple[_Cue, str]]:
    """The cues to try for one question, in order: universal, its own, others (see read)."""
    kinds = (_NEUTRAL, _OFF, _HEDGE, _VAGUE)
    universal = [(c, c.intent) for c in cues if c.intent in kinds and question in c.topics]
    own = [(c, _OWN) for c in cues if c.intent not in kinds and question in c.topics]
    if question == "rating":
        # "Very satisfied, it's still broken": the broken heater speaks against the rating.
        against = [
            (c, NOT_SATISFIED)
            for c in cues
            if c.intent == DENY and c.topics in (_WORK, _CLAIMS) and not c.bare
        ]
        return universal + against + own
    foreign = [(c, _FOREIGN) for c in cues if c.topics in (_PRESENCE, _WORK) and question not in c.topics]
    # Rating words in a claim's answer ("yes it was done, very satisfied") are masked last, so that
    # "好" never eats "修好了".
    # Only the approving ones: "not satisfied" keeps its negation, so "done, all not good" is no yes.
    rating = [
        (c, _NEUTRAL) for c in cues if c.topics == _RATING and c.intent in (VERY_SATISFIED, SATISFIED, _VAGUE)
    ]
    return universal + own + foreign + rating


_PLANS = {
    (lang, q): _plan(cues, q) for lang, cues in ((ENGLISH, _EN_CUES), (MANDARIN, _ZH_CUES)) for q in QUESTIONS
}


# "..., sorry, I mean X" / "……不对，我是说X": what follows the correction is the answer.
_SELF_CORRECTION = {
    ENGLISH: re.compile(
        r"(?:^|\|| )(?:sorry|no|wait|oops|i mean)[ |]*(?:i mean|i meant|make that)[ |]+(.+)$"
    ),
    MANDARIN: re.compile(r"(?:不对|不是|错了)?[|]?(?:我是说|我的意思是|应该说)[|]?(.+)$"),
}


# Whole answers that are a question back.
_WHAT = {
    ENGLISH: frozenset({"what", "pardon", "sorry", "huh", "eh", "excuse me", "what was that", "who"}),
    MANDARIN: frozenset({"什么", "啥", "谁", "哪位", "喂"}),
}


@dataclass(frozen=True)
class Reading:
    """One answer read: its intent (or unclear), the cue that decided, and the evidence."""

    intent: str
    cue: str
    text: str | None = None
    confidence: float | None = None
    language: str = ENGLISH
    input: str = "speech"
    cues: tuple[str, ...] = field(default=())

    @property
    def clear(self) -> bool:
        """Whether the answer can be acted on (anything else is asked again, never a verdict)."""
        return self.intent != UNCLEAR

    def evidence(self, question: str, result: str | None) -> dict[str, Any]:
        """What to keep with the attempt: what was heard, how sure, how it was read, what it became."""
        return {
            "question": question,
            "input": self.input,
            "text": self.text,
            "confidence": self.confidence,
            "language": self.language,
            "reading": f"{self.intent}: {self.cue}",
            "result": result,
        }


def language_of(text: str, default: str = ENGLISH) -> str:
    """The language a reply is written in (Chinese characters: Mandarin), else `default`."""
    return MANDARIN if _CJK.search(text or "") else (default if default in LANGUAGES else ENGLISH)


def _normalise_en(text: str, *, fillers: bool = True) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'").replace("‘", "'")
    for regex, repl in _EN_CONTRACTIONS:
        text = regex.sub(repl, text)
    text = re.sub(r"[.,;:!?…\-–—()\"]+", " | ", text)
    text = re.sub(r"[^a-z0-9| ]+", " ", text)
    if fillers:
        text = _EN_FILLERS.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip(" |")


def _normalise_zh(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[。，,.;；:：!！?？、…~～\s\-—()（）\"“”]+", "|", text)
    text = _ZH_FILLERS.sub("", text)
    text = re.sub(r"\|+", "|", text)
    return text.strip("|")


def _bare_key(norm: str, lang: str) -> str | None:
    plain = norm.replace("|", " " if lang == ENGLISH else "").strip()
    plain = re.sub(r"\s+", " ", plain)
    if lang == ENGLISH:
        # "two two", "one, one" (repetition) still count as one key.
        words = plain.split()
        if words and len(set(words)) == 1 and words[0] in _EN_KEYS:
            return _EN_KEYS[words[0]]
        match = _EN_KEY.match(plain)
        return _EN_KEYS[match.group(1)] if match else None
    if plain and len(set(plain)) == 1 and plain[0] in _ZH_KEYS:
        return _ZH_KEYS[plain[0]]
    match = _ZH_KEY.match(plain)
    return _ZH_KEYS[match.group(1)] if match else None


def _negations_before(masked: str, start: int, lang: str) -> list[re.Match[str]]:
    """The negations standing just before position `start` in the same clause."""
    clause_start = masked.rfind("|", 0, start) + 1
    if lang == ENGLISH:
        found = _EN_NEGATORS.finditer(masked, clause_start, start)
        return [m for m in found if len(masked[m.end() : start].split()) < 3]  # within three words
    return list(_ZH_NEGATORS.finditer(masked, max(clause_start, start - 4), start))  # four characters


def read(
    text: str | None,
    question: str,
    *,
    language: str | None = None,
    confidence: float | None = None,
    floor: float = 0.0,
    input: str = "speech",
) -> Reading:
    """Read one answer to `question` (a claim kind or "rating"); unclear unless unambiguous."""
    if question not in QUESTIONS:
        raise ValueError(f"unknown question {question!r}")
    raw = (text or "").strip()
    lang = language_of(raw, language or ENGLISH)

    def reading(intent: str, cue: str, cues: tuple[str, ...] = ()) -> Reading:
        return Reading(intent, cue, raw or None, confidence, lang, input, cues)

    if not raw:
        return reading(UNCLEAR, "nothing heard")
    if input == "speech" and (confidence is None or confidence < floor):
        shown = "none" if confidence is None else f"{confidence:.2f}"
        return reading(UNCLEAR, f"recogniser confidence {shown} below {floor:.2f}")
    norm = _normalise_en(raw) if lang == ENGLISH else _normalise_zh(raw)
    key = _bare_key(norm, lang)
    if key is not None:
        return reading(f"key:{key}", f"key {key} said")

    if norm.replace("|", " ").strip() in _WHAT[lang]:
        return reading(UNCLEAR, f"off the question: '{raw}'")
    corrected = _SELF_CORRECTION[lang].search(_normalise_en(raw, fillers=False) if lang == ENGLISH else norm)
    if corrected and corrected.group(1).strip("| "):
        # "one, sorry, I mean two", "非常满意……不对，我是说满意": the last word stands.
        again = read(corrected.group(1), question, language=lang, input="text")
        return Reading(again.intent, f"corrected to {again.cue}", raw, confidence, lang, input, again.cues)

    masked = norm
    found: list[tuple[int, str, str, bool]] = []  # (where, intent, the words, a bare yes/no)
    pad = " " if lang == ENGLISH else "_"
    for cue, mode in _PLANS[lang, question]:
        while (match := cue.pattern.search(masked)) is not None and match.group(0).strip("| _"):
            start, words, intent = match.start(), match.group(0).strip("| "), cue.intent
            if mode == _FOREIGN:
                # About something the question did not ask (being home, when asked whether the
                # work was done): a careful person asks again.
                intent, words = _OFF, f"{words}' (not asked)"
            elif mode in (_NEUTRAL, NOT_SATISFIED):
                intent = mode
            elif mode == _OWN and cue.negatable:
                negations = _negations_before(masked, start, lang)
                if negations:
                    # "not right" denies, "谈不上满意" is not satisfied; "not very satisfied" and a
                    # double negation ("不我没改") are unclear.
                    negated = {CONFIRM: DENY, RESCHEDULE: NOT_RESCHEDULE, SATISFIED: NOT_SATISFIED}
                    intent = negated.get(intent, UNCLEAR) if len(negations) == 1 else UNCLEAR
                    start = negations[0].start()  # the negation is explained: masked with its cue
                    words = masked[start : match.end()].strip("| _")
            found.append((start, intent, words, cue.bare))
            masked = masked[:start] + pad * (match.end() - start) + masked[match.end() :]
    found.sort()
    cues = tuple(f"{intent} '{words}'" for _, intent, words, _ in found if intent != _NEUTRAL)
    stray = (_EN_NEGATORS if lang == ENGLISH else _ZH_NEGATORS).search(masked)
    for kind, label in ((_OFF, "off the question"), (_HEDGE, "hedged")):
        hits = [w for _, i, w, _ in found if i == kind]
        if hits:
            return reading(UNCLEAR, f"{label}: '{hits[0]}'", cues)
    if "?" in raw or "？" in raw:
        return reading(UNCLEAR, "said as a question", cues)
    meaningful = [f for f in found if f[1] != _NEUTRAL]
    if question == "status_check" and meaningful and all(f[3] for f in meaningful):
        return reading(UNCLEAR, "a plain yes or no to a question of three choices", cues)
    said = [(i, w) for _, i, w, _ in found if i not in (_NEUTRAL, _VAGUE)]
    if not said and any(f[1] == _VAGUE for f in found):
        return reading(UNCLEAR, "a rating without a level", cues)
    if question == "customer_rescheduled":
        said = [(DENY if i == NOT_RESCHEDULE else i, w) for i, w in said]
    else:
        said = [(i, w) for i, w in said if i != NOT_RESCHEDULE]  # "I did not move it" answers nothing
    intents = {i for i, _ in said}
    if UNCLEAR in intents:
        return reading(UNCLEAR, "a double negation", cues)
    if not intents:
        return reading(
            UNCLEAR, "a negation with nothing it answers" if stray else "no answer recognised", cues
        )
    if (
        RESCHEDULE in intents
        and intents <= {RESCHEDULE, CONFIRM, DENY}
        and question != "customer_rescheduled"
    ):
        # "No, that's not right, I changed the appointment", "nobody came because I moved it":
        # the customer explains the claim by their own reschedule (never a confirmation).
        intents = {RESCHEDULE}
    if intents == {VERY_SATISFIED, SATISFIED} and said[0][0] != said[-1][0]:
        # "满意，非常满意", "satisfied... very satisfied": the level said last is the answer.
        intents = {said[-1][0]}
    if len(intents) > 1:
        return reading(UNCLEAR, "conflicting cues: " + "; ".join(cues), cues)
    intent = intents.pop()
    decided = next(w for i, w in reversed(said) if i == intent)
    if stray and intent in (CONFIRM, VERY_SATISFIED, SATISFIED):
        # A negation no phrase explained ("yes ... not", "right, no"): it cannot be a yes.
        return reading(UNCLEAR, f"'{decided}' with a stray negation '{stray.group(0)}'", cues)
    return reading(intent, f"'{decided}'", cues)


def key_pressed(key: str) -> Reading:
    """A key pressed on the phone (DTMF): it means what the menu says, in every language."""
    return Reading(f"key:{key}", f"key {key} pressed", key, None, ENGLISH, "dtmf")
