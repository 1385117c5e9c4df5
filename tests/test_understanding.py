"""Spoken and texted answers read as a careful person would (dispatch.audit.understanding).

Two hand-labelled corpora per language (tests/corpus/): answers_*.tsv, written first, which the
reader was tuned against, and heldout_*.tsv, written later by another hand and not tuned on. The
rule that matters: no denial and no unclear answer is ever read as a confirmation (and no answer
is read as a *different* clear answer). Accuracy on the rest is printed and held above a floor.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.audit import understanding as u

CORPUS = Path(__file__).parent / "corpus"
# What a key means per question, in the corpus's labels (a key a question does not offer: unclear).
KEY_LABELS = {
    "not_home": {"1": "confirm", "2": "deny", "3": "reschedule"},
    "completed": {"1": "confirm", "2": "deny"},
    "status_check": {"1": "confirm", "2": "deny", "3": "reschedule"},
    "other_reason": {"1": "confirm", "2": "deny", "3": "reschedule"},
    "customer_rescheduled": {"1": "confirm", "2": "deny"},
    "rating": {"1": "very_satisfied", "2": "satisfied", "3": "not_satisfied"},
}
POSITIVE = {"confirm", "very_satisfied", "satisfied"}


def rows(name: str) -> list[dict[str, str]]:
    with (CORPUS / name).open(encoding="utf-8") as f:
        return list(csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t"))


def label(question: str, text: str, language: str) -> str:
    """The corpus label the reader gives an answer (speech, confidently heard)."""
    reading = u.read(text, question, language=language, confidence=0.9, floor=0.6)
    if reading.intent.startswith("key:"):
        return KEY_LABELS[question].get(reading.intent[4:], "unclear")
    if question == "completed" and reading.intent == u.RESCHEDULE:
        return "unclear"  # the completed question offers no "changed the time" (twiml.first_question)
    return reading.intent


@pytest.mark.parametrize(
    "name, language, floor",
    [
        ("answers_en.tsv", "en", 0.95),
        ("answers_zh.tsv", "zh-CN", 0.95),
        ("heldout_en.tsv", "en", 0.80),
        ("heldout_zh.tsv", "zh-CN", 0.80),
    ],
)
def test_corpus_never_reads_a_denial_or_an_unclear_answer_as_a_confirmation(name, language, floor):
    corpus = rows(name)
    assert len(corpus) >= 70
    misread, wrong, right = [], [], 0
    for row in corpus:
        got = label(row["question"], row["text"], language)
        want = row["label"]
        if got == want:
            right += 1
        elif got in POSITIVE or (want != "unclear" and got != "unclear"):
            misread.append((row["question"], row["text"], want, got))  # a wrong verdict
        else:
            wrong.append((row["question"], row["text"], want, got))  # asked again: safe
    accuracy = right / len(corpus)
    print(f"{name}: {right}/{len(corpus)} = {accuracy:.1%}; safe misses (asked again): {len(wrong)}")
    assert misread == []
    assert accuracy >= floor, wrong


def test_corpora_are_big_and_adversarial_enough():
    for language in ("en", "zh"):
        corpus = rows(f"answers_{language}.tsv")
        claims = [r for r in corpus if r["question"] != "rating"]
        adversarial = [r for r in corpus if not r["note"].startswith(("plain", "bare key"))]
        assert len(corpus) >= 100 and len(claims) >= 50 and len(corpus) - len(claims) >= 25
        assert len(adversarial) * 2 >= len(corpus)


def test_the_reading_names_its_cue_and_keeps_the_evidence():
    reading = u.read("That's not correct, nobody came", "not_home", confidence=0.87, floor=0.6)
    assert reading.intent == u.DENY
    evidence = reading.evidence("not_home", "nobody_came")
    assert evidence["text"] == "That's not correct, nobody came" and evidence["confidence"] == 0.87
    assert evidence["reading"].startswith("deny: ") and evidence["result"] == "nobody_came"
    low = u.read("yes that's right", "not_home", confidence=0.4, floor=0.6)
    assert low.intent == u.UNCLEAR and "confidence 0.40 below 0.60" in low.cue


# --- property: a negation put into a confirming answer never yields confirm ---------------------

CONFIRMING = {
    lang: sorted(
        {(r["question"], r["text"]) for r in rows(f"answers_{lang}.tsv") if r["label"] == "confirm"}
        | {(r["question"], r["text"]) for r in rows(f"heldout_{lang}.tsv") if r["label"] == "confirm"}
    )
    for lang in ("en", "zh")
}
VERY_SATISFIED = {
    lang: sorted({r["text"] for r in rows(f"answers_{lang}.tsv") if r["label"] == "very_satisfied"})
    for lang in ("en", "zh")
}
EN_NEGATIONS = [
    "not",
    "no",
    "never",
    "don't",
    "didn't",
    "isn't",
    "wasn't",
    "nobody",
    "no one",
    "nothing",
    "n't",
]
ZH_NEGATIONS = ["不", "没", "没有", "不是", "别", "未"]


def _insert_en(text: str, at: int, negation: str) -> str:
    words = text.split()
    at %= len(words) + 1
    if negation == "n't" and at < len(words):
        words[at] = words[at].rstrip(",.!?") + "n't"  # "was" -> "wasn't", "is" -> "isn't"
        return " ".join(words)
    return " ".join([*words[:at], "not" if negation == "n't" else negation, *words[at:]])


def _insert_zh(text: str, at: int, negation: str) -> str:
    at %= len(text) + 1
    return text[:at] + negation + text[at:]


def _negated(data, lang: str, text: str) -> str:
    """`text` with one negation drawn for its language put in at a drawn place."""
    at = data.draw(st.integers(0, 40))
    if lang == "en":
        return _insert_en(text, at, data.draw(st.sampled_from(EN_NEGATIONS)))
    return _insert_zh(text, at, data.draw(st.sampled_from(ZH_NEGATIONS)))


@pytest.mark.parametrize("lang", ["en", "zh"])
@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_a_negation_put_into_a_confirming_answer_never_confirms(lang, data):
    question, text = data.draw(st.sampled_from(CONFIRMING[lang]))
    negated = _negated(data, lang, text)
    assert label(question, negated, "zh-CN" if lang == "zh" else "en") != "confirm", negated


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_negation_put_into_a_very_satisfied_rating_never_pays_a_bonus(data):
    lang = data.draw(st.sampled_from(["en", "zh"]))
    text = data.draw(st.sampled_from(VERY_SATISFIED[lang]))
    negated = _negated(data, lang, text)
    assert label("rating", negated, "zh-CN" if lang == "zh" else "en") != "very_satisfied", negated


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fillers_and_repetitions_do_not_change_a_denial(data):
    question = data.draw(st.sampled_from(["not_home", "completed", "other_reason"]))
    core = data.draw(st.sampled_from(["no, nobody came", "that's not right", "nobody showed up"]))
    filler = data.draw(st.sampled_from(["um", "uh", "well", "hmm", "like"]))
    said = f"{filler} {core} {core if data.draw(st.booleans()) else ''}".strip()
    assert label(question, said, "en") == "deny", said
