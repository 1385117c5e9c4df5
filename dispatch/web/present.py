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
from dispatch.audit.scorecards import wilson_interval
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
    "maintenance": "Maintenance",
}

# Why a campaign would leave a customer out (or contact them), as a supervisor reads it.
CAMPAIGN_REASONS = {
    "contact": "Would be contacted",
    "cap_reached": "Cap reached this period (recorded, not sent)",
    "already_contacted": "Contacted by this campaign already",
    "opted_out": "Opted out",
    "no_matching_unit": "No unit of these product lines in these cities",
    "erased": "Erased on request",
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

# Provider notices (notices/): what each tells, and where each delivery stands.
NOTICE_TYPES = {
    "work_order.routed": "New order",
    "work_order.booked": "Booked",
    "work_order.rescheduled": "Moved",
    "work_order.unbooked": "Date taken off",
    "work_order.reopened": "Reopened",
    "work_order.cancelled": "Cancelled",
    "work_order.withdrawn": "Given to another provider",
    "work_order.visit_upcoming": "Visit reminder",
}
NOTICE_CHANNELS = {"text": "Text", "webhook": "Your system (webhook)"}
LEAD_DAYS = {
    "evening-before": "the evening before",
    "day-before": "the day before",
    "morning-of": "the morning of the visit",
}


def notice_lead(lead: str) -> str:
    """A visit reminder's lead time in words: 'the evening before at 18:00', '1h before the visit'."""
    day, sep, at = lead.partition("@")
    if sep:
        return f"{LEAD_DAYS.get(day, day)} at {at}"
    return f"{lead} before the visit"


DELIVERY_STATUSES = {
    "scheduled": "waiting",
    "held": "held (quiet hours)",
    "sending": "sending",
    "delivered": "delivered",
    "failed": "failed",
    "uncertain": "may have been sent",
    "superseded": "no longer needed",
    "skipped": "nowhere to send",
}
# Messages to customers (dispatch/outreach): what happened to each, why a customer waits for a call.
CONTACTS = {
    "queued": "Planned",
    "sent": "Sent",
    "held": "Held (quiet hours)",
    "skipped": "Not sent",
    "capped": "Not sent (too many this period)",
    "superseded": "No longer needed",
    "uncertain": "May have been sent",
    "failed": "Refused by the network",
    "reply": "Customer replied",
    "opted_out": "Opted out",
    "opted_in": "Opted back in",
}
PURPOSES = {"booking_confirmation": "booking confirmation", "booking_reminder": "day-before reminder"}
REQUESTS = {"reschedule": "Asks for another time", "check_text": "Check whether our text arrived"}


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
                    "input": {"dtmf": "keys", "speech": "spoken", "sms": "text"}.get(
                        h.get("input"), h.get("input")
                    ),
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


# --- the supervisors' dashboard and the ledger pages ----------------------------------------------

FIGURE_WORDS = {
    "dispatched": "Orders dispatched",
    "closed": "Visits reported",
    "first_visit_completed": "Completed on the first visit",
    "not_home_claims": "“Not home” claims",
    "verdicts": "Checked with the customer",
    "confirmed": "Confirmed by the customer",
    "contradicted": "Contradicted by the customer",
    "unreachable": "Customer not reached",
    "not_home_checked": "“Not home” claims checked",
    "not_home_contradicted": "“Not home” claims contradicted",
    "rated": "Ratings",
    "very_satisfied": "Very satisfied",
    "complaints": "Complaints opened",
}

FINE_STATUS = {
    "proposed": "waiting for a decision",
    "posted": "posted",
    "voided": "voided",
}

APPEAL_STATUS = {
    "open": "waiting for a decision",
    "upheld": "upheld: the fine is reversed",
    "rejected": "rejected: the fine stands",
}

ENTRY_KINDS = {"bonus": "Bonus", "fine": "Fine", "reversal": "Reversal"}


def money(amount_minor: int, currency: str) -> str:
    """Integer minor units with the currency: 200000, 'CNY' -> 'CNY 2,000.00'; -1050 -> 'CNY -10.50'."""
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(amount_minor), 100)
    return f"{currency} {sign}{whole:,}.{cents:02d}"


def percent(value: float | None) -> str:
    """0.6043 -> '60.4%'; None (no data) -> '–' (no score, never 0%)."""
    return "–" if value is None else f"{value * 100:.1f}%"


def interval(lower: float | None, upper: float | None) -> str:
    """A 95% interval in words: '43.9%–100.0%'; nothing without data."""
    if lower is None or upper is None:
        return "no ratings"
    return f"{lower * 100:.1f}%–{upper * 100:.1f}%"


def clock(at: datetime, tz: str) -> str:
    """'14:05:09 (your time, UTC+08:00)': a time on the reader's clock, with its offset."""
    local = at.astimezone(ZoneInfo(tz))
    offset = local.strftime("%z")
    return f"{local:%H:%M:%S} (your time, UTC{offset[:3]}:{offset[3:]})"


# Distinct, colour-blind-safe line colours (Okabe-Ito), one per provider in a chart.
CHART_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]


def rate_chart(rows: list[Any], days: list[date], link: Any) -> dict[str, Any]:
    """The very-satisfied rate per provider and day with its 95% Wilson band, for charts.js.

    `rows` are per-provider, per-day score rows; `link(code, day)` the drill-down URL of a point.
    A day without ratings has no point (a gap, never 0%)."""
    labels = [d.isoformat() for d in days]
    by_provider: dict[str, dict[date, Any]] = {}
    names: dict[str, str] = {}
    for row in rows:
        by_provider.setdefault(row.provider.code, {})[row.day] = row
        names[row.provider.code] = row.provider.name
    series = []
    for index, code in enumerate(sorted(by_provider)):
        points: list[dict[str, Any] | None] = []
        for day in days:
            row = by_provider[code].get(day)
            n = row.counts["rated"] if row else 0
            k = row.counts["very_satisfied"] if row else 0
            bounds = wilson_interval(k, n)
            if bounds is None:
                points.append(None)
                continue
            points.append(
                {
                    "rate": k / n,
                    "lower": bounds[0],
                    "upper": bounds[1],
                    "n": n,
                    "k": k,
                    "href": link(code, day),
                }
            )
        series.append(
            {
                "code": code,
                "name": names[code],
                "colour": CHART_COLOURS[index % len(CHART_COLOURS)],
                "points": points,
            }
        )
    return {"kind": "rate", "labels": labels, "shown": [d.strftime("%d %b") for d in days], "series": series}


def not_home_chart(rows: list[Any], link: Any) -> dict[str, Any]:
    """'Customer not home' claims against the contradicted ones, per provider, for charts.js;
    `link(code, figure)` the drill-down URL of a bar."""
    shown = [r for r in rows if r.counts["not_home_claims"] or r.counts["not_home_contradicted"]]
    return {
        "kind": "not_home",
        "labels": [f"{r.provider.name} ({r.provider.code})" for r in shown],
        "claims": [r.counts["not_home_claims"] for r in shown],
        "contradicted": [r.counts["not_home_contradicted"] for r in shown],
        "claims_href": [link(r.provider.code, "not_home_claims") for r in shown],
        "contradicted_href": [link(r.provider.code, "not_home_contradicted") for r in shown],
    }


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
