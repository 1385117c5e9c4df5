"""Planning verification callbacks: at closing (with its job request), timing in the customer's
calling hours across time zones and DST, end-of-day status checks, and the sweep."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select, update

from dispatch.audit import callbacks, scheduling
from dispatch.models import Callback, ContactAttempt, OutboxMessage, WorkOrder, utcnow
from dispatch.platform.config import DEFAULTS
from tests.callbacks_support import ALL_DAY, callback_of, close_with
from tests.helpers import Api, future_window

# Calling hours all day: these tests must not depend on the time of day they run at.
APP_SETTINGS = ALL_DAY


def _callback_jobs(session) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.job == "place_callback_attempt")
            .order_by(OutboxMessage.id)
        )
    )


def Z(text: str) -> datetime:  # noqa: N802 - reads like a literal
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- at closing ---------------------------------------------------------------------------------


def test_closing_plans_one_callback_and_its_job_request_in_the_same_transaction(api, session):
    order_id = close_with(api, "customer_not_home")
    cb = callback_of(session, order_id)
    assert (cb.purpose, cb.claim, cb.state, cb.next_channel) == (
        "verify_visit",
        "customer_not_home",
        "scheduled",
        "voice",
    )
    assert cb.visit_id is not None and cb.provider_id is not None and cb.phone.startswith("+1")
    jobs = _callback_jobs(session)
    assert [(j.payload, j.available_at) for j in jobs] == [
        ({"callback_id": cb.id, "channel": "voice"}, cb.due_at)
    ]
    actions = [
        e["action"] for e in api.get(f"/api/v1/work-orders/{order_id}", "supervisor").get_json()["history"]
    ]
    assert actions[-1] == "close"


def test_every_outcome_is_checked_and_a_refused_closing_plans_nothing(api, session):
    ids = [close_with(api, claim) for claim in ("completed", "parts_missing", "customer_refused")]
    again = api.close(ids[0], "SPR-HEAT", 1)
    assert again.status_code == 409
    claims = session.scalars(select(Callback.claim).order_by(Callback.id)).all()
    assert claims == ["completed", "parts_missing", "customer_refused"]
    assert len(_callback_jobs(session)) == 3


def test_not_home_is_called_soon_and_completed_hours_later(api, session, cfg):
    not_home = callback_of(session, close_with(api, "customer_not_home"))
    done = callback_of(session, close_with(api, "completed", phone="+1 217 555 0142"))
    # Calling hours are all day here, so only the configured delays count.
    assert not_home.due_at - not_home.created_at == timedelta(
        minutes=DEFAULTS["CALLBACK_DELAY_NOT_HOME_MINUTES"]
    )
    assert done.due_at - done.created_at == timedelta(minutes=DEFAULTS["CALLBACK_DELAY_COMPLETED_MINUTES"])


@pytest.mark.parametrize(
    "at",
    [
        "2026-01-14T18:00",  # 12:00 in Chicago (CST), 13:00 in New York
        "2026-07-14T17:00",  # 12:00 in Chicago (CDT), 13:00 in New York
        "2026-03-07T23:00",  # 17:00 in Chicago the evening before the switch to summer time
    ],
)
def test_first_call_waits_for_calling_hours_in_the_customers_own_city(settings, session_factory, at):
    """Hours chosen around a fixed moment so that Springfield (Chicago) may be called and Lakeside
    (New York, one hour ahead) may not: the Lakeside call moves to its next morning, the other
    does not. The clock is driven (time-machine), so the test runs the same at any hour."""
    delay = 30
    with time_machine.travel(Z(at), tick=True):
        chicago = (utcnow() + timedelta(minutes=delay)).astimezone(ZoneInfo("America/Chicago"))
        start, end = chicago - timedelta(minutes=10), chicago + timedelta(minutes=40)
        app = create_with_hours(settings, f"{start:%H:%M}", f"{end:%H:%M}", delay)
        try:
            api = Api.seeded(app.test_client(), session_factory)
            spring = close_with(api, "customer_not_home", city="Springfield")
            lake = close_with(
                api,
                "customer_not_home",
                city="Lakeside",
                phone="+1 518 555 0177",
                provider="LAKE-SVC",
                installer=6,
            )
            with session_factory() as session:
                s_cb, l_cb = callback_of(session, spring), callback_of(session, lake)
                assert s_cb.due_at == s_cb.created_at + timedelta(minutes=delay)
                l_local = l_cb.due_at.astimezone(ZoneInfo("America/New_York"))
                assert (l_local.hour, l_local.minute) == (start.hour, start.minute)
                assert (
                    l_local.date()
                    == (l_cb.created_at.astimezone(ZoneInfo("America/New_York")) + timedelta(days=1)).date()
                )
        finally:
            app.extensions["dispatch.engine"].dispose()


def create_with_hours(settings, start: str, end: str, delay: int):
    from dispatch.app import create_app

    app = create_app(
        {
            **settings,
            "CALLING_HOURS_START": start,
            "CALLING_HOURS_END": end,
            "CALLBACK_DELAY_NOT_HOME_MINUTES": delay,
        }
    )
    app.config["TESTING"] = True
    return app


# --- calling hours, time zones, DST (pure) ------------------------------------------------------

HOURS = {**DEFAULTS}  # 09:00-20:00


@pytest.mark.parametrize(
    ("tz", "at", "expected"),
    [
        # 21:00 CST on the 22nd: the next window opens at 09:00 CST on the 23rd.
        ("America/Chicago", "2026-11-23T03:00", "2026-11-23T15:00"),
        # 10:00 EST: inside, unchanged.
        ("America/New_York", "2026-11-23T15:00", "2026-11-23T15:00"),
        # 07:00 PST: later the same morning.
        ("America/Los_Angeles", "2026-11-23T15:00", "2026-11-23T17:00"),
        # Half-hour zone: 07:30 IST -> 09:00 IST.
        ("Asia/Kolkata", "2026-11-23T02:00", "2026-11-23T03:30"),
        # 20:00 is already outside (the end is exclusive).
        ("America/Chicago", "2026-11-24T02:00", "2026-11-24T15:00"),
        # 19:59 is still inside.
        ("America/Chicago", "2026-11-24T01:59", "2026-11-24T01:59"),
        # DST starts in the US on 8 March 2026: 09:00 is CDT (UTC-5), not CST.
        ("America/Chicago", "2026-03-08T06:00", "2026-03-08T14:00"),
        ("America/Chicago", "2026-03-07T03:00", "2026-03-07T15:00"),
        # DST ends on 1 November 2026: 00:30 CDT -> 09:00 CST (UTC-6).
        ("America/Chicago", "2026-11-01T05:30", "2026-11-01T15:00"),
        # Europe changes on another day (29 March 2026): 08:00 CEST -> 09:00 CEST = 07:00 UTC.
        ("Europe/Berlin", "2026-03-29T06:00", "2026-03-29T07:00"),
    ],
)
def test_next_calling_time_in_local_time(tz, at, expected):
    assert scheduling.next_calling_time(Z(at), tz, HOURS) == Z(expected)


def test_first_call_after_a_late_closing_goes_to_the_next_morning():
    # Closed 19:45 CST with "customer not home": +30 min is 20:15, after hours -> 09:00 next day.
    assert scheduling.first_call_at(
        "customer_not_home", Z("2026-11-24T01:45"), "America/Chicago", HOURS
    ) == Z("2026-11-24T15:00")
    # Closed 10:00 CST, completed: +3 h = 13:00 CST.
    assert scheduling.first_call_at("completed", Z("2026-11-23T16:00"), "America/Chicago", HOURS) == Z(
        "2026-11-23T19:00"
    )
    # Other reasons: +1 h.
    assert scheduling.first_call_at("parts_missing", Z("2026-11-23T16:00"), "America/Chicago", HOURS) == Z(
        "2026-11-23T17:00"
    )


def test_calling_hours_to_midnight_and_fractional_minutes():
    all_day = {**HOURS, "CALLING_HOURS_START": "00:00", "CALLING_HOURS_END": "24:00"}
    assert scheduling.next_calling_time(Z("2026-11-24T05:59"), "America/Chicago", all_day) == Z(
        "2026-11-24T05:59"
    )
    fast = {**all_day, "CALLBACK_DELAY_NOT_HOME_MINUTES": 0.05}
    assert scheduling.first_call_at("customer_not_home", Z("2026-11-24T05:00"), "UTC", fast) == Z(
        "2026-11-24T05:00"
    ) + timedelta(seconds=3)


def test_settings_from_the_environment_take_fractional_minutes(monkeypatch):
    from dispatch.platform.config import load_settings

    monkeypatch.setenv("DISPATCH_CALLBACK_RETRY_MINUTES", "0.05")
    assert load_settings(webhooks=False)["CALLBACK_RETRY_MINUTES"] == 0.05


# --- the automated attempt timing ------------------------------------------------------------------


def test_an_attempt_outside_calling_hours_is_deferred_not_made(api, session):
    order_id = close_with(api, "customer_not_home")
    cb = callback_of(session, order_id)
    night = {**DEFAULTS}  # 09:00-20:00
    at = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 22:00 in Springfield
    session.execute(update(Callback).where(Callback.id == cb.id).values(due_at=at - timedelta(minutes=1)))
    session.commit()
    assert callbacks.start_attempt(session, cb.id, "voice", at, night) is None
    session.commit()
    cb = callback_of(session, order_id)
    assert cb.state == "scheduled" and cb.due_at == Z("2026-11-24T15:00")
    assert session.scalar(select(func.count()).select_from(ContactAttempt)) == 0
    assert _callback_jobs(session)[-1].available_at == Z("2026-11-24T15:00")


# --- end-of-day status checks ----------------------------------------------------------------------


def _booked_yesterday(api, session, **sale) -> int:
    order = api.sale(appointment=future_window(), **sale)["work_orders"][0]
    start = utcnow() - timedelta(days=1)
    session.execute(
        update(WorkOrder)
        .where(WorkOrder.id == order["id"])
        .values(appointment_start=start, appointment_end=start + timedelta(hours=2))
    )
    session.commit()
    return order["id"]


def test_booked_orders_left_open_get_one_status_check_per_order_and_day(api, session, cfg):
    open_id = _booked_yesterday(api, session)
    closed_id = _booked_yesterday(api, session, phone="+1 217 555 0150")
    assert api.close(closed_id, "SPR-HEAT", 1).status_code == 200
    future = api.sale(appointment=future_window(), phone="+1 217 555 0151")["work_orders"][0]["id"]

    assert callbacks.plan_status_checks(session, cfg) == 1
    session.commit()
    assert callbacks.plan_status_checks(session, cfg) == 0  # cron runs again: nothing twice
    session.commit()
    assert callbacks.plan_status_checks(session, cfg, now=utcnow() + timedelta(hours=6)) == 0
    session.commit()
    checks = session.scalars(select(Callback).where(Callback.purpose == "status_check")).all()
    assert [(c.work_order_id, c.claim, c.state) for c in checks] == [(open_id, "status_check", "scheduled")]
    assert future not in [c.work_order_id for c in checks]
    assert [j.payload for j in _callback_jobs(session) if j.payload["callback_id"] == checks[0].id] == [
        {"callback_id": checks[0].id, "channel": "voice"}
    ]

    # The provider closes it late: the status check is dropped and the closing is verified instead.
    assert api.close(open_id, "SPR-HEAT", 1).status_code == 200
    session.expire_all()
    states = dict(
        session.execute(
            select(Callback.purpose, Callback.state).where(Callback.work_order_id == open_id)
        ).all()
    )
    assert states == {"status_check": "cancelled", "verify_visit": "scheduled"}


def test_two_status_check_passes_at_once_plan_once(api, session_factory, cfg):
    with session_factory() as session:
        ids = [_booked_yesterday(api, session, phone=f"+1 217 555 02{n:02d}") for n in range(4)]
    results, barrier = [], threading.Barrier(2)

    def run():
        with session_factory() as s:
            barrier.wait()
            results.append(callbacks.plan_status_checks(s, cfg))
            s.commit()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with session_factory() as session:
        planned = session.scalars(
            select(Callback.work_order_id).where(Callback.purpose == "status_check")
        ).all()
    assert sorted(planned) == sorted(ids) and sum(results) == 4


# --- the sweep -------------------------------------------------------------------------------------


def _lose_jobs(session) -> None:
    """As if the relay handed the rows to Redis and Redis then lost them."""
    session.execute(update(OutboxMessage).values(dispatched_at=utcnow()))
    session.commit()


def _pending_jobs(session, callback_id: int) -> int:
    return session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.dispatched_at.is_(None),
            OutboxMessage.payload["callback_id"].as_integer() == callback_id,
        )
    )


def test_sweep_puts_back_a_due_callback_whose_job_was_lost(api, session, cfg):
    due = callback_of(session, close_with(api, "customer_not_home"))
    later = callback_of(session, close_with(api, "completed", phone="+1 217 555 0160"))
    _lose_jobs(session)
    now = due.due_at + timedelta(minutes=1)
    assert callbacks.sweep(session, cfg, now=now).requeued == 0  # its request is still recent
    session.commit()
    now = due.due_at + timedelta(minutes=DEFAULTS["CALLBACK_SWEEP_STALE_MINUTES"] + 1)
    report = callbacks.sweep(session, cfg, now=now)
    session.commit()
    assert report.requeued == 1
    assert _pending_jobs(session, due.id) == 1 and _pending_jobs(session, later.id) == 0
    assert callbacks.sweep(session, cfg, now=now + timedelta(seconds=30)).requeued == 0  # not twice
    session.commit()
    # The re-put job finds the attempt due and makes it, once.
    attempt = callbacks.start_attempt(session, due.id, "voice", now, cfg)
    session.commit()
    assert attempt is not None
    assert callbacks.start_attempt(session, due.id, "voice", now, cfg) is None
    assert callbacks.sweep(session, cfg, now=now + timedelta(minutes=15)).requeued == 0  # in progress


def test_two_sweeps_at_once_do_not_double_enqueue(api, session_factory, cfg):
    with session_factory() as session:
        ids = [
            callback_of(session, close_with(api, "customer_not_home", phone=f"+1 217 555 03{n:02d}")).id
            for n in range(5)
        ]
        _lose_jobs(session)
        now = max(session.scalars(select(Callback.due_at))) + timedelta(hours=1)
    reports, barrier = [], threading.Barrier(3)

    def run():
        with session_factory() as s:
            barrier.wait()
            reports.append(callbacks.sweep(s, cfg, now=now))
            s.commit()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with session_factory() as session:
        assert [_pending_jobs(session, i) for i in ids] == [1] * 5
    assert sum(r.requeued for r in reports) == 5


def test_sweep_times_out_a_silent_call_and_a_job_killed_after_starting_never_redials(api, session, cfg):
    cb = callback_of(session, close_with(api, "customer_not_home"))
    first = callbacks.start_attempt(session, cb.id, "voice", cb.due_at, cfg)
    session.commit()
    # The worker dies here (before dialling or recording a sid); RQ runs the job again:
    assert callbacks.start_attempt(session, cb.id, "voice", cb.due_at + timedelta(seconds=5), cfg) is None
    session.commit()
    later = cb.due_at + timedelta(minutes=DEFAULTS["CALLBACK_CALL_TIMEOUT_MINUTES"] + 1)
    assert callbacks.sweep(session, cfg, now=later).timed_out == 1
    session.commit()
    cb = callback_of(session, cb.work_order_id)
    attempts = session.scalars(select(ContactAttempt).where(ContactAttempt.callback_id == cb.id)).all()
    assert [(a.id, a.status) for a in attempts] == [(first, "not_answered")]
    assert (cb.state, cb.next_channel, cb.automated_attempts) == ("scheduled", "sms", 1)


def test_a_repeated_or_stale_job_request_is_seen_as_not_due_before_any_rate_limit_slot(api, session, cfg):
    # The place-call job asks this before waiting for a slot of the outbound limit (1 call/s on
    # a default Twilio account): a request with nothing to do must not use one up.
    cb = callback_of(session, close_with(api, "customer_not_home"))
    assert not callbacks.attempt_may_be_due(session, cb.id, "voice", cb.due_at - timedelta(seconds=1))
    assert not callbacks.attempt_may_be_due(session, cb.id, "sms", cb.due_at)  # voice comes first
    assert callbacks.attempt_may_be_due(session, cb.id, "voice", cb.due_at)
    attempt_id = callbacks.start_attempt(session, cb.id, "voice", cb.due_at, cfg)
    session.commit()
    # In progress: a copy of the job may still find a released attempt to make again.
    assert callbacks.attempt_may_be_due(session, cb.id, "voice", cb.due_at)
    callbacks.record_answer(
        session,
        cb.id,
        callbacks.CustomerAnswer("confirmed"),
        channel="voice",
        actor=callbacks.SYSTEM,
        attempt_id=attempt_id,
        settings=cfg,
    )
    session.commit()
    assert not callbacks.attempt_may_be_due(session, cb.id, "voice", cb.due_at + timedelta(hours=1))
    assert not callbacks.attempt_may_be_due(session, 10**9, "voice", cb.due_at)  # no such callback


def test_a_job_request_with_nothing_to_do_is_done_and_takes_no_call_slot(
    api, session, session_factory, database_url, tmp_path, monkeypatch
):
    # The place-call job, run by a real DispatchWorker (in this process, burst mode) as the relay
    # hands it over, for a callback the team answered first: it must neither wait for a slot of
    # the outbound limit nor leave its outbox row to be handed over again and again.
    from redis import Redis
    from rq import Queue

    from dispatch.jobs import runtime
    from dispatch.jobs.worker import DispatchWorker
    from dispatch.telephony import rate_limit_key
    from tests.callbacks_support import agent_actor
    from tests.conftest import REDIS
    from tests.procs import isolated_env

    cb = callback_of(session, close_with(api, "customer_not_home"))
    [row] = _callback_jobs(session)
    session.commit()
    callbacks.record_answer(
        session,
        cb.id,
        callbacks.CustomerAnswer("confirmed"),
        channel="human",
        actor=agent_actor(session_factory),
    )
    session.commit()

    env = isolated_env(tmp_path, "nothingdue", DATABASE_URL=database_url, REDIS_URL=REDIS)
    for name, value in env.items():
        if name.startswith("DISPATCH_"):
            monkeypatch.setenv(name, value)
    runtime.settings.cache_clear()
    runtime._factories.clear()
    redis = Redis.from_url(REDIS)
    slots = rate_limit_key(runtime.settings(), "voice")
    redis.delete(slots)
    try:
        queue = Queue(runtime.queue_name(), connection=redis)
        job = queue.enqueue(
            "dispatch.jobs.callbacks.place_callback_attempt",
            kwargs=row.payload,
            job_id=f"{runtime.OUTBOX_JOB_PREFIX}{row.id}",
        )
        DispatchWorker([queue], connection=redis).work(burst=True)
        assert job.get_status(refresh=True) == "finished" and job.return_value() == "nothing due"
        assert not redis.exists(slots)  # no slot was reserved
        session.expire_all()
        assert session.get(OutboxMessage, row.id).completed_at is not None
        channels = session.scalars(select(ContactAttempt.channel)).all()
        assert channels == ["human"]  # the team's call; nothing dialled or texted
    finally:
        for factory in runtime._factories.values():
            factory.kw["bind"].dispose()
        runtime._factories.clear()
        runtime.settings.cache_clear()
        queue.delete(delete_jobs=True)
