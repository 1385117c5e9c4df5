"""What the console shows, in words a person reads at a glance: the provider's claim, the customer
card, earlier attempts and what the robot heard. Presentation only; the data comes from the same
domain functions as the API's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit import scheduling
from dispatch.customers import directory
from dispatch.models import Callback, Complaint, Customer, Visit

# The customer's answers the agent can record for each kind of claim, in the robot's menu order:
# the same keys (1, 2, 3) mean the same as on the phone.
NOT_HOME_ANSWERS = [
    ("confirmed", "Yes, I was not at home"),
    ("nobody_came", "No: I was home and nobody came"),
    ("rescheduled", "I asked them to come another time"),
]
OTHER_ANSWERS = [
    ("confirmed", "Yes, that is what happened"),
    ("disputed", "No, that is not what happened"),
    ("rescheduled", "I asked them to come another time"),
]
COMPLETED_ANSWERS = [("done", "Yes, the job was done"), ("not_done", "No, it was not done")]
STATUS_CHECK_ANSWERS = [
    ("done", "The job was done"),
    ("not_done", "Nobody came / not done"),
    ("rescheduled", "I asked them to come another time"),
]

RATINGS = [
    ("very_satisfied", "Very satisfied", "v"),
    ("satisfied", "Satisfied", "s"),
    ("not_satisfied", "Not satisfied", "d"),
]

NOT_REACHED = [
    ("no_answer", "No answer", "a"),
    ("wrong_number", "Wrong number", "w"),
    ("call_later", "Asked to be called later", "l"),
]

REASONS = {
    "customer_not_home": "the customer was not at home",
    "customer_rescheduled": "the customer asked for another time",
    "parts_missing": "parts were missing",
    "site_not_ready": "the site was not ready",
    "customer_refused": "the customer refused the work",
    "wrong_address": "the address was wrong",
    "other": "another reason (see the note)",
}

KINDS = {
    "delivery": "Delivery",
    "installation": "Installation",
    "delivery_installation": "Delivery and installation",
    "repair": "Repair",
}

STATES = {
    "unassigned": "waiting for a provider",
    "pending": "pending (no date yet)",
    "booked": "booked",
    "closed_completed": "closed: completed",
    "closed_not_completed": "closed: not completed",
    "verified": "verified with the customer",
    "cancelled": "cancelled",
}

HAPPENED = {
    "confirmed": "confirmed the claim",
    "nobody_came": "said nobody came",
    "disputed": "disputed the claim",
    "rescheduled": "said they asked for another time",
    "done": "said the job was done",
    "not_done": "said the job was not done",
}

VERDICTS = {
    "confirmed": "the customer confirmed the provider's claim",
    "contradicted": "the customer contradicted the provider's claim",
    "customer_rescheduled": "the customer asked for another time; the order is open again",
    "unreachable": "the customer could not be reached (this confirms nothing)",
}

CHANNELS = {"voice": "Robot call", "sms": "Text message", "human": "Agent call"}

COMPLAINT_STATUSES = {"open": "open", "investigating": "investigating", "closed": "closed"}

# Why a callback came to the team, where the stored reason is a code.
ESCALATIONS = {"opted_out": "the customer asked for no more robot calls or texts"}

LANGUAGES = {"en": "English", "zh-CN": "Mandarin (中文)"}


def answers_for(claim: str) -> list[tuple[str, str]]:
    """The answers (value, words) to offer for a claim, keyed 1, 2, 3 in this order."""
    if claim == "completed":
        return COMPLETED_ANSWERS
    if claim == "status_check":
        return STATUS_CHECK_ANSWERS
    if claim == "customer_not_home":
        return NOT_HOME_ANSWERS
    return OTHER_ANSWERS


def short_claim(claim: str) -> str:
    """A claim in three or four words, for the live list."""
    if claim == "completed":
        return "says done"
    if claim == "status_check":
        return "no report"
    if claim == "customer_not_home":
        return "says not home"
    return "says " + REASONS.get(claim, claim.replace("_", " ")).removeprefix("the ")


def local(at: datetime | None, tz: str) -> datetime | None:
    """A stored UTC time on the wall clock of `tz`."""
    return scheduling.local_time(at, tz) if at is not None else None


def when(at: datetime | None, tz: str, *, today: date | None = None) -> str:
    """'14:05' today, 'Tue 24 Nov 14:05' otherwise, on the wall clock of `tz`."""
    if at is None:
        return ""
    shown = at.astimezone(ZoneInfo(tz))
    if today is not None and shown.date() == today:
        return shown.strftime("%H:%M")
    return shown.strftime("%a %d %b %H:%M")


def claim_words(callback: Callback, tz: str) -> str:
    """The provider's claim as a sentence."""
    provider = callback.provider.name if callback.provider else "The provider"
    at = when(callback.claim_at, tz)
    if callback.claim == "completed":
        return f"{provider} says the job was done ({at}, customer's time)."
    if callback.claim == "status_check":
        return (
            f"The order was booked for {at} (customer's time) and {provider} has not reported on it. "
            "Ask whether anyone came."
        )
    reason = REASONS.get(callback.claim, callback.claim.replace("_", " "))
    return f"{provider} says it could not do the job because {reason} ({at}, customer's time)."


@dataclass
class AttemptView:
    seq: int
    channel: str
    started: str
    status: str
    answer: str | None
    note: str | None
    language: str | None
    agent: bool
    heard: list[dict[str, Any]] = field(default_factory=list)


def _status_words(attempt: Any) -> str:
    history = attempt.status_history or []
    reason = next((h.get("reason") for h in reversed(history) if h.get("reason")), None)
    if attempt.status == "not_reached":
        label = dict((value, words) for value, words, _key in NOT_REACHED).get(reason or "", "not reached")
        call_at = next((h.get("call_at") for h in reversed(history) if h.get("call_at")), None)
        if call_at:
            return f"{label} (for {call_at[:16].replace('T', ' ')})"
        return label
    return {
        "answered": "answered",
        "not_answered": "not answered",
        "failed": "could not be placed",
        "opted_out": "customer opted out (STOP)",
        "awaiting_reply": "waiting for a reply",
    }.get(attempt.status, attempt.status.replace("_", " "))


def attempts(callback: Callback, tz: str) -> list[AttemptView]:
    """Every earlier try on this callback, with what was heard (words, confidence, reading)."""
    out = []
    for a in callback.attempts:
        heard = []
        for h in a.heard or []:
            confidence = h.get("confidence")
            heard.append(
                {
                    "input": {"dtmf": "keys", "speech": "spoken", "sms": "text"}.get(h.get("input"), h.get("input")),
                    "text": h.get("text"),
                    "confidence": f"{round(float(confidence) * 100)}%" if confidence is not None else None,
                    "reading": h.get("reading"),
                    "result": HAPPENED.get(h.get("result") or "", h.get("result")),
                }
            )
        out.append(
            AttemptView(
                seq=a.seq,
                channel=CHANNELS.get(a.channel, a.channel),
                started=when(a.started_at, tz),
                status=_status_words(a),
                answer=HAPPENED.get(a.answer_happened or "") if a.answer_happened else None,
                note=a.answer_text if a.channel == "human" else None,
                language=LANGUAGES.get(a.language or "", a.language),
                agent=a.channel == "human",
                heard=heard,
            )
        )
    return out


@dataclass
class Card:
    """Everything the agent needs on screen for one callback."""

    callback: Callback
    customer: Customer
    tz: str
    local_now: datetime
    language: str
    claim: str
    visit: Visit | None
    attempts: list[AttemptView]
    answers: list[tuple[str, str]]


def card(session: Session, callback: Callback, now: datetime) -> Card:
    """The callback with its customer's whole card (units, every order, its history)."""
    customer = directory.get_card(session, callback.work_order.customer_id)
    tz = customer.city.timezone
    language = customer.language or customer.city.language
    visit = next((v for v in callback.work_order.visits if v.id == callback.visit_id), None)
    return Card(
        callback=callback,
        customer=customer,
        tz=tz,
        local_now=scheduling.local_time(now, tz),
        language=LANGUAGES.get(language, language),
        claim=claim_words(callback, tz),
        visit=visit,
        attempts=attempts(callback, tz),
        answers=answers_for(callback.claim),
    )


def day_bounds(now: datetime, tz: str) -> tuple[datetime, datetime]:
    """The start and end of `now`'s day on the wall clock of `tz` (DST-correct)."""
    zone = ZoneInfo(tz)
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


# --- the hotline desk ----------------------------------------------------------------------------

FAULTS = {
    "no_hot_water": "No hot water",
    "leak": "Leak",
    "ignition": "Does not ignite",
    "error_code": "Shows an error code",
    "noise": "Noise",
    "pressure": "Pressure",
    "electrical": "Electrical",
    "water_quality": "Water quality",
    "other": "Other",
}


def masked_phone(e164: str) -> str:
    """Enough of a number to tell customers apart in a list, not the whole of it."""
    if len(e164) < 8:
        return e164
    return f"{e164[:2]} ··· {e164[-4:]}"


def escalation(reason: str | None) -> str:
    """Why the robot handed the callback to a person, in words."""
    return ESCALATIONS.get(reason or "", reason or "")


def complaint_words(complaint: Complaint, callback: Callback | None) -> str:
    """What a complaint is about, in words: the provider's claim and what the customer said (its
    stored summary, which names them by code, only for a complaint without a callback)."""
    if callback is None:
        return complaint.summary
    tz = callback.work_order.customer.city.timezone
    if callback.claim == "status_check":
        provider = callback.provider.name if callback.provider else "the provider"
        claim = f"The order was booked for {when(callback.claim_at, tz)} (customer's time); {provider} did not report on it."
    else:
        claim = claim_words(callback, tz)
    words = f"{claim} The customer {HAPPENED.get(callback.answer_happened or '', 'answered otherwise')}."
    if callback.answer_note:
        words += f" Note: “{callback.answer_note}”"
    return words


def complaints_words(session: Session, complaints: list[Complaint]) -> dict[int, str]:
    """complaint_words for a page of complaints, their callbacks read at once: {complaint id: words}."""
    ids = [c.callback_id for c in complaints if c.callback_id is not None]
    found = (
        {cb.id: cb for cb in session.scalars(select(Callback).where(Callback.id.in_(ids))).unique()}
        if ids
        else {}
    )
    return {c.id: complaint_words(c, found.get(c.callback_id or 0)) for c in complaints}
