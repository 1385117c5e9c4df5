"""The customers' confirmations and day-before reminders, under a controlled clock: tied to one
booking version, composed at send time in the customer's language and the city's local time,
superseded by a reschedule, a cancellation or a closing; the reply word lands in the hotline's queue."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from dispatch import bookings, outreach
from dispatch.models import CustomerMessage, Installer, OutboxMessage, PersonRequest, WorkOrder
from dispatch.platform import outbox
from dispatch.telephony import conversation
from tests.helpers import sale_body

EN_PHONE, ZH_PHONE = "+12175550142", "+8613800138005"


def at(y, m, d, hh, mm=0, tz="America/Chicago") -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def window(day: str, start: str = "15:00", end: str = "18:00") -> dict[str, str]:
    """A window in the city's local time (naive times are local)."""
    return {"start": f"{day}T{start}:00", "end": f"{day}T{end}:00"}


def run_jobs(session, cfg) -> list[tuple[str, str]]:
    """Do what the worker would with the due outbox rows: tell each booking version, then send
    each due message (the gateway's part is the e2e test's); returns (status, body or reason)."""
    done: list[tuple[str, str]] = []
    while True:
        now = datetime.now(UTC)
        session.expire_all()
        rows = session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.completed_at.is_(None),
                OutboxMessage.available_at <= now,
                OutboxMessage.job.in_(["booking_changed", "send_customer_message"]),
            )
            .order_by(OutboxMessage.id)
        ).all()
        if not rows:
            return done
        for row in rows:
            if row.job == "booking_changed":
                bookings.booking_changed(session, **row.payload, settings=cfg)
            else:
                message = session.get(CustomerMessage, row.payload["message_id"])
                before = message.status
                out = outreach.sending.prepare(session, message.id, now, cfg)
                if out is not None:
                    outreach.sending.sent(session, out.message_id, f"SM{out.message_id}")
                if message.status != before:  # a job that found nothing to do is not listed
                    done.append((message.status, message.body if out is not None else message.reason))
            outbox.mark_completed(session, row.id)
            session.commit()


def book(api, order_id: int, win: dict):
    response = api.put(f"/api/v1/work-orders/{order_id}/appointment", "agent", {"window": win})
    assert response.status_code == 200, response.get_json()


def messages(session, order_id: int) -> list[CustomerMessage]:
    session.expire_all()
    return list(
        session.scalars(
            select(CustomerMessage)
            .where(CustomerMessage.work_order_id == order_id)
            .order_by(CustomerMessage.id)
        )
    )


def sell(api, *, city="Springfield", phone=EN_PHONE, name="Mary Smith", appointment=None) -> dict:
    response = api.post(
        "/api/v1/sales", "sales", sale_body(city=city, phone=phone, name=name, appointment=appointment)
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["work_orders"][0]


def provider_name(session, order_id: int) -> str:
    return session.get(WorkOrder, order_id).provider.name


@pytest.mark.parametrize(
    ("city", "phone", "tz", "words"),
    [
        (
            "Springfield",
            EN_PHONE,
            "America/Chicago",
            ("Thursday 5 March, between 15:00 and 18:00", "Reply CHANGE"),
        ),
        ("Nanjing", ZH_PHONE, "Asia/Shanghai", ("3月5日星期四15:00至18:00", "请回复“改期”")),
    ],
)
def test_a_booking_is_confirmed_now_and_reminded_the_day_before_at_local_ten(
    api, session, cfg, city, phone, tz, words
):
    with time_machine.travel(at(2026, 3, 1, 12, tz=tz), tick=False):
        order = sell(api, city=city, phone=phone, name="王芳", appointment=window("2026-03-05"))
        (confirmation,) = run_jobs(session, cfg)
        name = provider_name(session, order["id"])
        assert confirmation[0] == "sent"
        assert all(w in confirmation[1] for w in (*words, name)), confirmation[1]
        reminder = messages(session, order["id"])[-1]
        assert (reminder.purpose, reminder.status) == ("booking_reminder", "pending")
        assert reminder.due_at == at(2026, 3, 4, 10, tz=tz)
    with time_machine.travel(at(2026, 3, 4, 9, 59, tz=tz), tick=False):
        assert run_jobs(session, cfg) == []
    with time_machine.travel(at(2026, 3, 4, 10, tz=tz), tick=False):
        ((status, body),) = run_jobs(session, cfg)
    assert status == "sent" and name in body and words[1] in body
    assert ("tomorrow" in body) if city == "Springfield" else ("明天" in body)
    # Never twice: the reminder's job handed over again finds it sent.
    with time_machine.travel(at(2026, 3, 4, 10, 5, tz=tz), tick=False):
        assert outreach.sending.prepare(session, reminder.id, datetime.now(UTC), cfg) is None


def test_the_reminder_keeps_to_the_local_clock_across_a_dst_change(api, session, cfg):
    # Chicago springs forward on Sunday 8 March 2026: 10:00 that day is 15:00 UTC, not 16:00.
    with time_machine.travel(at(2026, 3, 6, 12), tick=False):
        order = sell(api, appointment=window("2026-03-09"))
        run_jobs(session, cfg)
        assert messages(session, order["id"])[-1].due_at == datetime(2026, 3, 8, 15, 0, tzinfo=UTC)
    with time_machine.travel(datetime(2026, 3, 8, 14, 59, tzinfo=UTC), tick=False):
        assert run_jobs(session, cfg) == []
    with time_machine.travel(datetime(2026, 3, 8, 15, 0, tzinfo=UTC), tick=False):
        ((status, body),) = run_jobs(session, cfg)
    assert status == "sent" and "Monday 9 March, between 15:00 and 18:00" in body


def test_a_reschedule_supersedes_the_old_reminder_and_never_sends_the_old_time(api, session, cfg):
    with time_machine.travel(at(2026, 3, 1, 12), tick=False):
        order = sell(api, appointment=window("2026-03-05"))
        run_jobs(session, cfg)
        book(api, order["id"], window("2026-03-10", "09:00", "12:00"))
        sent = run_jobs(session, cfg)
    assert [s for s, _ in sent] == ["sent"]
    assert "has moved" in sent[0][1] and "Tuesday 10 March, between 09:00 and 12:00" in sent[0][1]
    old, new = [m for m in messages(session, order["id"]) if m.purpose == "booking_reminder"]
    assert (old.status, old.reason) == ("superseded", "the visit was rescheduled")
    assert (new.status, new.due_at) == ("pending", at(2026, 3, 9, 10))
    with time_machine.travel(at(2026, 3, 4, 10), tick=False):
        assert run_jobs(session, cfg) == []  # the old reminder's job finds it superseded
    with time_machine.travel(at(2026, 3, 9, 10), tick=False):
        ((status, body),) = run_jobs(session, cfg)
    assert status == "sent" and "09:00" in body and "15:00" not in body
    bodies = [m.body for m in messages(session, order["id"]) if m.body]
    assert len(bodies) == 3 and all("5 March" not in b for b in bodies[1:])


def test_a_reminder_due_before_its_booking_job_ran_sees_the_newer_version(api, session, cfg):
    """The reschedule committed, its booking job not yet run: the old reminder composes nothing."""
    with time_machine.travel(at(2026, 3, 4, 9, 58), tick=False):
        order = sell(api, appointment=window("2026-03-05"))
        run_jobs(session, cfg)
        book(api, order["id"], window("2026-03-06"))
    with time_machine.travel(at(2026, 3, 4, 10), tick=False):
        session.expire_all()
        reminder = [m for m in messages(session, order["id"]) if m.purpose == "booking_reminder"][0]
        assert outreach.sending.prepare(session, reminder.id, datetime.now(UTC), cfg) is None
        session.commit()
    reminder = session.get(CustomerMessage, reminder.id)
    assert reminder.status == "superseded" and "a newer booking (version 2)" in reminder.reason


@pytest.mark.parametrize("how", ["cancel", "close"])
def test_a_cancellation_or_closing_supersedes_what_was_pending(api, session, cfg, how):
    with time_machine.travel(at(2026, 3, 1, 12), tick=True):
        order = sell(api, appointment=window("2026-03-05"))
        run_jobs(session, cfg)
        if how == "cancel":
            response = api.post(
                f"/api/v1/work-orders/{order['id']}/cancel", "agent", {"reason": "customer moved"}
            )
        else:
            wo = session.get(WorkOrder, order["id"])
            installer = session.scalar(
                select(Installer.id).where(Installer.provider_id == wo.provider_id).limit(1)
            )
            response = api.close(order["id"], wo.provider.code, installer)
        assert response.status_code == 200, response.get_json()
        run_jobs(session, cfg)
    reminder = messages(session, order["id"])[-1]
    assert (reminder.purpose, reminder.status) == ("booking_reminder", "superseded")
    assert reminder.reason == {"cancel": "the order was cancelled", "close": "the order was closed"}[how]
    with time_machine.travel(at(2026, 3, 4, 10), tick=False):
        assert run_jobs(session, cfg) == []


@pytest.mark.parametrize(("phone", "city", "tz", "word", "answer"), [
    (EN_PHONE, "Springfield", "America/Chicago", "change", "Our service team will call you"),
    (ZH_PHONE, "Nanjing", "Asia/Shanghai", "改期", "客服人员会给您打电话"),
])  # fmt: skip
def test_the_reply_word_lands_in_the_hotline_queue(api, session, cfg, phone, city, tz, word, answer):
    with time_machine.travel(at(2026, 3, 1, 12, tz=tz), tick=False):
        order = sell(api, city=city, phone=phone, appointment=window("2026-03-05"))
        run_jobs(session, cfg)
        reply = conversation.text_received(session, phone, word, cfg, message_sid="SMreply")
        session.commit()
    assert answer in reply
    (request,) = session.scalars(select(PersonRequest)).all()
    assert (request.kind, request.work_order_id, request.words) == ("reschedule", order["id"], word)
    (listed,) = outreach.requests.open_requests(session)
    assert listed.phone == phone and listed.appointment_start.hour == 15


def test_a_confirmation_due_in_the_night_is_held_until_quiet_hours_end(api, session, cfg):
    with time_machine.travel(at(2026, 3, 2, 2, tz="Asia/Shanghai"), tick=False):
        order = sell(api, city="Nanjing", phone=ZH_PHONE, appointment=window("2026-03-06"))
        ((status, reason),) = run_jobs(session, cfg)
    assert status == "held" and reason == "quiet hours in Asia/Shanghai: held until 2026-03-02 08:00 local"
    with time_machine.travel(at(2026, 3, 2, 7, 59, tz="Asia/Shanghai"), tick=False):
        assert run_jobs(session, cfg) == []
    with time_machine.travel(at(2026, 3, 2, 8, tz="Asia/Shanghai"), tick=False):
        ((status, body),) = run_jobs(session, cfg)
    assert status == "sent" and "3月6日星期五15:00至18:00" in body
    kinds = [
        line.kind
        for line in reversed(outreach.contact_history(session, messages(session, order["id"])[0].customer_id))
    ]
    assert kinds == ["queued", "queued", "held", "sent"]
