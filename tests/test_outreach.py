"""The contact core: a message queued once, composed at send time, under one contact policy
(opt-out on every channel with its evidence, quiet hours holding, the proactive cap), each step in
the customer's contact history; replies to the newest message that awaits one; the sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from dispatch import outreach
from dispatch.audit import callbacks
from dispatch.customers.erasure import erase_customer
from dispatch.models import (
    City,
    ContactConsent,
    Customer,
    CustomerMessage,
    MessageStatus,
    OutboxMessage,
    PersonRequest,
)
from dispatch.platform.actors import Actor
from dispatch.platform.config import ConfigError, load_settings
from dispatch.telephony import conversation

ACTOR = Actor.system("test")
PHONE = "+12175550123"
CHICAGO = ZoneInfo("America/Chicago")


def _note(session, message, language):
    if message.params.get("gone"):
        return outreach.superseded(message, "the thing it was about is gone")
    return {"en": "Hello", "zh-CN": "您好"}[language] + f" #{message.params.get('n', 0)}"


def _answer(session, message, text):
    return f"got {text.strip()}"


outreach.composers.register("test_note", _note)
outreach.composers.register("test_question", _note)
outreach.replies.register("test_question", _answer)


@pytest.fixture
def customer(session):
    city = City(name="Springfield", timezone="America/Chicago", region="US", language="en")
    session.add(city)
    session.flush()
    row = Customer(name="Mary Smith", phone=PHONE, address="12 Elm St", city_id=city.id)
    session.add(row)
    session.commit()
    return row.id


def local(y, m, d, hh, mm=0, zone=CHICAGO) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=zone).astimezone(UTC)


def queue(session, customer_id, key, *, transactional=True, purpose="test_note", at=None, **params):
    with time_machine.travel((at or local(2026, 3, 2, 9)) - timedelta(minutes=1), tick=False):
        return _queue(
            session, customer_id, key, transactional=transactional, purpose=purpose, at=at, **params
        )


def prepare(session, message_id, at, cfg):
    """The send job's first step, at `at` (the clock travels there)."""
    with time_machine.travel(at, tick=False):
        out = outreach.sending.prepare(session, message_id, at, cfg)
        session.commit()
        return out


def _queue(session, customer_id, key, *, transactional, purpose, at, **params):
    message = outreach.queue(
        session, ACTOR, customer_id=customer_id, purpose=purpose, transactional=transactional,
        dedupe_key=key, not_before=at, params=params,
    )  # fmt: skip
    session.commit()
    return message


def history(session, customer_id):
    return [(line.kind, line.reason) for line in reversed(outreach.contact_history(session, customer_id))]


def test_a_dedupe_key_queues_one_message_and_one_send_job_at_its_time(session, customer):
    at = local(2026, 3, 2, 11)
    first = queue(session, customer, "k1", at=at)
    assert first is not None and first.status == "pending"
    assert queue(session, customer, "k1", at=at) is None
    jobs = session.scalars(select(OutboxMessage).where(OutboxMessage.job == "send_customer_message")).all()
    assert [(j.payload, j.available_at) for j in jobs] == [({"message_id": first.id}, at)]


def test_a_message_is_composed_at_send_time_and_prepared_at_most_once(session, cfg, customer):
    message = queue(session, customer, "k", at=local(2026, 3, 2, 11), n=7)
    assert prepare(session, message.id, local(2026, 3, 2, 10), cfg) is None  # early
    out = prepare(session, message.id, local(2026, 3, 2, 11), cfg)
    session.commit()
    assert out is not None and (out.to, out.body) == (PHONE, "Hello #7")
    # A second run of the job (RQ retry, the relay handing it over again) finds it taken.
    assert prepare(session, message.id, local(2026, 3, 2, 11, 5), cfg) is None
    outreach.sending.sent(session, message.id, "SM1")
    outreach.sending.sent(session, message.id, "SM1")
    session.commit()
    assert session.get(CustomerMessage, message.id).status == "sent"
    assert [k for k, _ in history(session, customer)] == ["queued", "sent"]


def test_a_composer_that_no_longer_applies_supersedes_with_its_reason(session, cfg, customer):
    message = queue(session, customer, "k", at=local(2026, 3, 2, 11), gone=True)
    assert prepare(session, message.id, local(2026, 3, 2, 11), cfg) is None
    session.commit()
    assert session.get(CustomerMessage, message.id).status == "superseded"
    assert history(session, customer)[-1] == ("superseded", "the thing it was about is gone")


def test_quiet_hours_hold_a_message_until_they_end_in_local_time_then_it_goes(session, cfg, customer):
    message = queue(session, customer, "k", at=local(2026, 3, 2, 22, 30))
    assert prepare(session, message.id, local(2026, 3, 2, 22, 30), cfg) is None
    session.commit()
    held = session.get(CustomerMessage, message.id)
    assert held.status == "held" and held.due_at == local(2026, 3, 3, 8)
    assert "held until 2026-03-03 08:00 local" in history(session, customer)[-1][1]
    # Its send job is requested again for the end of the quiet hours (never dropped).
    due = session.scalars(select(OutboxMessage.available_at).order_by(OutboxMessage.id)).all()
    assert due == [local(2026, 3, 2, 22, 30), local(2026, 3, 3, 8)]
    assert prepare(session, message.id, local(2026, 3, 3, 7, 59), cfg) is None
    assert prepare(session, message.id, local(2026, 3, 3, 8), cfg) is not None


def test_quiet_hours_end_on_the_wall_clock_across_a_dst_change(cfg):
    # Chicago springs forward on 8 March 2026: 08:00 CDT is 13:00 UTC, the day before 14:00 UTC.
    assert outreach.policy.quiet_hours_end(local(2026, 3, 7, 23), "America/Chicago", cfg) == datetime(
        2026, 3, 8, 13, 0, tzinfo=UTC
    )
    assert outreach.policy.quiet_hours_end(local(2026, 3, 6, 23), "America/Chicago", cfg) == datetime(
        2026, 3, 7, 14, 0, tzinfo=UTC
    )


@pytest.mark.parametrize("words", ["STOP", "退订", "TD"])
def test_opt_out_by_text_skips_every_later_message_with_the_evidence_kept(session, cfg, customer, words):
    message = queue(session, customer, "k", at=local(2026, 3, 2, 11))
    with time_machine.travel(local(2026, 3, 2, 10, 59) + timedelta(seconds=30), tick=False):
        conversation.text_received(session, PHONE, words, cfg, message_sid="SMstop1")
        session.commit()
    assert prepare(session, message.id, local(2026, 3, 2, 11), cfg) is None
    session.commit()
    skipped = session.get(CustomerMessage, message.id)
    assert skipped.status == "skipped" and skipped.reason.startswith("opted out (sms:")
    (evidence,) = session.scalars(select(ContactConsent)).all()
    assert (evidence.phone, evidence.consented, evidence.words, evidence.channel, evidence.message_sid) == (
        PHONE, False, words, "sms", "SMstop1",
    )  # fmt: skip
    assert [k for k, _ in history(session, customer)] == ["queued", "opted_out", "skipped"]
    # The verification callbacks read the same record: no automated call either.
    assert callbacks.is_opted_out(session, PHONE, cfg)
    # START: messages go again, and the consent is kept beside the refusal.
    with time_machine.travel(local(2026, 3, 2, 11, 30), tick=False):
        conversation.text_received(session, PHONE, "START", cfg, message_sid="SMstart")
        session.commit()
    again = queue(session, customer, "k2", at=local(2026, 3, 2, 12))
    assert prepare(session, again.id, local(2026, 3, 2, 12), cfg) is not None
    assert [(e.consented, e.message_sid) for e in outreach.consent.evidence_of(session, PHONE, cfg)] == [
        (False, "SMstop1"),
        (True, "SMstart"),
    ]


def test_a_refusal_on_a_call_or_to_the_hotline_holds_for_texts_too(session, cfg, customer):
    callbacks.opt_out(session, PHONE, "voice:STOP", cfg)
    session.commit()
    message = queue(session, customer, "k", transactional=True, at=local(2026, 3, 2, 11))
    assert prepare(session, message.id, local(2026, 3, 2, 11), cfg) is None
    assert session.get(CustomerMessage, message.id).reason.startswith("opted out (voice:STOP")


def test_proactive_contact_is_capped_per_local_week_and_transactional_is_not(session, cfg, customer):
    # Monday 2 March to Sunday 8 March 2026, Chicago time; the cap is 2 a week by default.
    sent = []
    for i, day in enumerate((2, 4, 6)):
        message = queue(session, customer, f"p{i}", transactional=False, at=local(2026, 3, day, 11))
        sent.append(prepare(session, message.id, local(2026, 3, day, 11), cfg))
        session.commit()
    assert [s is not None for s in sent] == [True, True, False]
    assert history(session, customer)[-1] == ("capped", "proactive cap: 2 per week reached")
    booked = queue(session, customer, "t", transactional=True, at=local(2026, 3, 8, 11))
    assert prepare(session, booked.id, local(2026, 3, 8, 11), cfg) is not None
    session.commit()
    # Sunday 23:30 Chicago is still the same week although it is Monday in UTC.
    late = queue(session, customer, "p3", transactional=False, at=local(2026, 3, 8, 20, 30))
    assert prepare(session, late.id, local(2026, 3, 8, 20, 30), cfg) is None
    session.commit()
    nextweek = queue(session, customer, "p4", transactional=False, at=local(2026, 3, 9, 11))
    assert prepare(session, nextweek.id, local(2026, 3, 9, 11), cfg) is not None


def test_a_reply_goes_to_the_newest_message_that_awaits_one(session, cfg, customer):
    older = queue(session, customer, "q0", purpose="test_question", at=local(2026, 3, 2, 10))
    message = queue(session, customer, "q1", purpose="test_question", at=local(2026, 3, 2, 11))
    note = queue(session, customer, "n", at=local(2026, 3, 2, 12))  # takes no replies
    for m, minute in ((older, 0), (message, 1), (note, 2)):
        assert prepare(session, m.id, local(2026, 3, 2, 12, minute), cfg) is not None
        with time_machine.travel(local(2026, 3, 2, 12, minute) + timedelta(seconds=30), tick=False):
            outreach.sending.sent(session, m.id, f"SM{m.id}")
            session.commit()
    with time_machine.travel(local(2026, 3, 2, 13), tick=False):
        assert conversation.text_received(session, PHONE, "  CHANGE ", cfg) == "got CHANGE"
        session.commit()
    assert history(session, customer)[-1] == ("reply", "CHANGE")
    assert session.get(CustomerMessage, message.id).replied_at is not None
    assert session.get(CustomerMessage, older.id).replied_at is None
    # Past CONTACT_REPLY_WINDOW_HOURS (72) a text answers nothing.
    with time_machine.travel(local(2026, 3, 5, 13), tick=False):
        assert conversation.text_received(session, PHONE, "CHANGE", cfg) is None


def test_the_sweep_requests_lost_jobs_again_and_hands_a_half_sent_text_to_a_person(session, cfg, customer):
    lost = queue(session, customer, "lost", at=local(2026, 3, 2, 11))
    stuck = queue(session, customer, "stuck", at=local(2026, 3, 2, 11))
    assert prepare(session, stuck.id, local(2026, 3, 2, 11), cfg) is not None
    session.commit()  # the worker died here: "sending", no sid
    with time_machine.travel(local(2026, 3, 2, 11, 30), tick=False):
        report = outreach.sending.sweep(session, local(2026, 3, 2, 11, 30), cfg)
        session.commit()
    assert (report.requested, report.uncertain) == (1, 1)
    assert session.get(CustomerMessage, stuck.id).status == "uncertain"
    (person,) = session.scalars(select(PersonRequest)).all()
    assert (person.kind, person.message_id) == ("check_text", stuck.id)
    keys = session.scalars(select(OutboxMessage.dedupe_key).order_by(OutboxMessage.id)).all()
    assert keys[-1] == f"message:{lost.id}:2"
    # The uncertain one is never prepared again.
    assert prepare(session, stuck.id, local(2026, 3, 2, 12), cfg) is None
    # Should the gateway's answer come after all (a slow Twilio, not a dead worker), it is sent
    # and the person's check is closed.
    outreach.sending.sent(session, stuck.id, "SMlate")
    session.commit()
    assert session.get(CustomerMessage, stuck.id).status == "sent"
    assert outreach.requests.open_requests(session) == []


def test_the_history_shows_local_times(session, cfg, customer):
    queue(session, customer, "k", at=local(2026, 3, 2, 11))
    (line,) = outreach.contact_history(session, customer)
    assert line.local_at.tzinfo == CHICAGO and line.kind == "queued"
    assert MessageStatus(line.status) == MessageStatus.PENDING


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("CONTACT_CAP_PERIOD", "year", "CONTACT_CAP_PERIOD must be 'day', 'week' or 'month'"),
        ("CONTACT_QUIET_HOURS_START", "25:00", "CONTACT_QUIET_HOURS_START must be a local time HH:MM"),
        ("CUSTOMER_REMINDER_LOCAL_TIME", "10", "CUSTOMER_REMINDER_LOCAL_TIME must be a local time HH:MM"),
        ("CONTACT_PROACTIVE_CAP", -1, "CONTACT_PROACTIVE_CAP may not be negative"),
    ],
)
def test_contact_settings_that_cannot_work_are_refused_at_start(key, value, named):
    with pytest.raises(ConfigError, match=named):
        load_settings({key: value}, webhooks=False)


def test_an_erasure_keeps_what_happened_and_why_but_not_the_number_the_text_or_the_words(
    session, cfg, customer
):
    message = queue(session, customer, "q", purpose="test_question", at=local(2026, 3, 2, 11))
    assert prepare(session, message.id, local(2026, 3, 2, 11), cfg) is not None
    with time_machine.travel(local(2026, 3, 2, 11, 1), tick=False):
        outreach.sending.sent(session, message.id, "SMq")
        conversation.text_received(session, PHONE, "call me at 555 0123 please", cfg)
        outreach.requests.add(session, customer_id=customer, kind="reschedule", words="call me at 555 0123")
        conversation.text_received(session, PHONE, "STOP", cfg, message_sid="SMstop")
        session.commit()
    erase_customer(session, ACTOR, customer, reason="request REQ-1", settings=cfg)
    session.commit()
    sent = session.get(CustomerMessage, message.id)
    assert (sent.status, sent.to_number, sent.body) == ("sent", None, None)
    (evidence,) = session.scalars(select(ContactConsent)).all()
    assert (evidence.phone, evidence.words, evidence.keyword, evidence.message_sid) == (
        None,
        None,
        "STOP",
        "SMstop",
    )
    assert outreach.consent.is_opted_out(session, PHONE, cfg)  # the refusal still holds, as a digest
    kinds = {(line.kind, line.reason) for line in outreach.contact_history(session, customer)}
    assert ("reply", None) in kinds and ("sent", None) in kinds
    assert [r.words for r in session.scalars(select(PersonRequest))] == [None]
