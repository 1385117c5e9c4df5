"""Providers told (issue 15): at once of each change to an order's booking, again ahead of each
visit at lead times in the city's local time (across a change to daylight saving time), by text
(through the Twilio stand-in) and by a signed webhook checked by a receiver written from the
Standard Webhooks description; a later booking version supersedes what was pending; retries with
back-off; the delivery log visible to the provider (its own) and to headquarters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import select

from dispatch.cli import main
from dispatch.models import AuditEvent, NoticeDelivery, Provider, ProviderNotice, WorkOrder
from dispatch.notices.planning import lead_due
from dispatch.platform.config import ConfigError, notice_leads, quiet_hours
from dispatch.telephony import make_gateway
from tests.notices_support import awake, run_due
from tests.webhook_receiver import Receiver

# Tuesday 09:00 in Springfield (America/Chicago, CST, UTC-6).
T0 = datetime(2031, 3, 4, 15, 0, tzinfo=UTC)
# Monday 10 March 10:00-13:00 in Springfield: the day after clocks go forward (CDT, UTC-5).
VISIT = {"start": "2031-03-10T15:00:00+00:00", "end": "2031-03-10T18:00:00+00:00"}
# Wednesday 12 March 10:00-13:00 CDT.
MOVED = {"start": "2031-03-12T15:00:00+00:00", "end": "2031-03-12T18:00:00+00:00"}
SPR_HEAT_PHONE = "+12175550101"
ACCOUNT, TOKEN = "AC" + "2" * 32, "notices-auth-token"


@pytest.fixture
def phone(standin, cfg):
    """The Twilio gateway on the stand-in (the real SDK builds each request)."""
    twilio = {
        "TELEPHONY_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM_NUMBER": "+12175550100",
        "TWILIO_API_BASE_URL": standin.url,
    }
    return lambda: make_gateway({**cfg, **twilio})


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def texts(standin) -> list[str]:
    return [m.form["Body"] for m in standin.messages(to=SPR_HEAT_PHONE)]


def notices_of(session_factory, order_id: int) -> list[ProviderNotice]:
    with session_factory() as session:
        rows = session.scalars(
            select(ProviderNotice).where(ProviderNotice.work_order_id == order_id).order_by(ProviderNotice.id)
        ).all()
        for row in rows:
            _ = [d.attempt_log for d in row.deliveries]
        session.expunge_all()
        return list(rows)


def _book(api, order_id: int, window: dict):
    response = api.put(f"/api/v1/work-orders/{order_id}/appointment", "agent", {"window": window})
    assert response.status_code == 200, response.get_json()


def test_each_change_is_told_at_once_and_ahead_of_the_visit_and_a_later_booking_supersedes(
    api, session_factory, cfg, phone, standin
):
    settings = dict(cfg)
    with time_machine.travel(T0, tick=False) as clock:
        order_id = api.sale()["work_orders"][0]["id"]
        run_due(session_factory, settings, phone)
        assert texts(standin) == [
            f"Dispatch: New order #{order_id}. no date yet · 12 Elm St, Springfield · "
            "delivery and installation, Electric 50 L"
        ]
        _book(api, order_id, VISIT)
        run_due(session_factory, settings, phone)
        assert texts(standin)[-1].startswith(f"Dispatch: Order #{order_id} booked. 2031-03-10 10:00-13:00 · ")
        # The evening before at 18:00 on Springfield's wall clock (CDT since that morning: 23:00
        # UTC, not midnight), and one hour before the start.
        reminders = [
            n for n in notices_of(session_factory, order_id) if n.type == "work_order.visit_upcoming"
        ]
        assert [(n.lead, n.due_at) for n in reminders] == [
            ("evening-before@18:00", datetime(2031, 3, 9, 23, 0, tzinfo=UTC)),
            ("1h", datetime(2031, 3, 10, 14, 0, tzinfo=UTC)),
        ]

        _book(api, order_id, MOVED)  # rescheduled: the reminders for 10 March no longer apply
        run_due(session_factory, settings, phone)
        assert texts(standin)[-1].startswith(f"Dispatch: Order #{order_id} moved. 2031-03-12 10:00-13:00 · ")
        stale = [n for n in notices_of(session_factory, order_id) if n.id in {r.id for r in reminders}]
        assert all(n.superseded_at is not None for n in stale)
        assert {d.status for n in stale for d in n.deliveries} == {"superseded"}

        clock.move_to(datetime(2031, 3, 10, 14, 0, 1, tzinfo=UTC))  # when the old reminders were due
        run_due(session_factory, settings, phone)
        assert len(texts(standin)) == 3  # never a reminder for a slot that no longer exists

        clock.move_to(datetime(2031, 3, 11, 23, 0, 1, tzinfo=UTC))  # 18:00 the evening before
        run_due(session_factory, settings, phone)
        run_due(session_factory, settings, phone)  # a second pass sends nothing again
        assert texts(standin)[3].startswith(
            f"Dispatch: Reminder: visit for order #{order_id}. 2031-03-12 10:00-13:00 · 12 Elm St"
        )
        assert len(texts(standin)) == 4

        cancelled = api.post(f"/api/v1/work-orders/{order_id}/cancel", "agent", {"reason": "returned"})
        assert cancelled.status_code == 200
        run_due(session_factory, settings, phone)
        clock.move_to(datetime(2031, 3, 12, 14, 0, 1, tzinfo=UTC))  # the hour-before reminder's time
        run_due(session_factory, settings, phone)
    assert texts(standin)[4:] == [f"Dispatch: Order #{order_id} cancelled: no visit."]
    with session_factory() as session:
        told = session.scalars(
            select(AuditEvent.data)
            .where(AuditEvent.action == "provider_notified", AuditEvent.entity_id == order_id)
            .order_by(AuditEvent.seq)
        ).all()
    assert [e["type"].split(".")[1] for e in told] == [
        "routed",
        "booked",
        "rescheduled",
        "visit_upcoming",
        "cancelled",
    ]


def test_an_order_moved_to_another_provider_tells_both(api, session_factory, cfg, phone, standin):
    with time_machine.travel(T0, tick=False):
        order_id = api.sale(city="Bayview")["work_orders"][0]["id"]  # nobody covers Bayview
        run_due(session_factory, dict(cfg), phone)
        assert texts(standin) == []
        assigned = api.post(f"/api/v1/work-orders/{order_id}/assign", "supervisor", {"provider": "SPR-HEAT"})
        assert assigned.status_code == 200, assigned.get_json()
        run_due(session_factory, dict(cfg), phone)
        assert [t.split(".")[0] for t in texts(standin)] == [f"Dispatch: New order #{order_id}"]
        # Nothing in Dispatch moves an assigned order yet; when something does, the next change of
        # its booking tells the provider it left and the one it went to.
        with session_factory() as session:
            order = session.get(WorkOrder, order_id)
            order.provider_id = session.scalar(select(Provider.id).where(Provider.code == "RIV-PRO"))
            session.commit()
        _book(api, order_id, VISIT)
        run_due(session_factory, dict(cfg), phone)
    riverton = [m.form["Body"] for m in standin.messages(to="+13035550103")]
    assert texts(standin)[-1] == f"Dispatch: Order #{order_id} given to another provider: no visit."
    assert riverton == [
        f"Dispatch: New order #{order_id}. 2031-03-10 08:00-11:00 · 12 Elm St, Bayview · "
        "delivery and installation, Electric 50 L"
    ]  # the first it hears of the order, in the order's city's time (PDT)


def test_lead_times_follow_the_local_wall_clock_across_zones_and_dst():
    evening, hour, morning = notice_leads("evening-before@18:00,1h,morning-of@07:30")

    def due(lead, start: str, zone: str) -> datetime:
        return lead_due(lead, datetime.fromisoformat(start), zone)

    # Chicago: clocks go forward on 9 March 2031 and back on 2 November 2031.
    assert due(evening, "2031-03-08T15:00:00+00:00", "America/Chicago") == datetime(
        2031, 3, 8, 0, 0, tzinfo=UTC
    )
    assert due(evening, "2031-03-10T15:00:00+00:00", "America/Chicago") == datetime(
        2031, 3, 9, 23, 0, tzinfo=UTC
    )
    assert due(evening, "2031-11-03T15:00:00+00:00", "America/Chicago") == datetime(
        2031, 11, 3, 0, 0, tzinfo=UTC
    )
    assert due(morning, "2031-03-09T16:00:00+00:00", "America/Chicago") == datetime(
        2031, 3, 9, 12, 30, tzinfo=UTC
    )
    # Nanjing (UTC+8, no DST): the local day before is a different UTC day than Chicago's.
    assert due(evening, "2031-03-10T01:00:00+00:00", "Asia/Shanghai") == datetime(
        2031, 3, 9, 10, 0, tzinfo=UTC
    )
    # A duration is absolute time: across the spring-forward night, one hour is still one hour.
    assert due(hour, "2031-03-09T08:30:00+00:00", "America/Chicago") == datetime(
        2031, 3, 9, 7, 30, tzinfo=UTC
    )
    for bad in ("evening@18:00", "2d", "evening-before@25:00", "1h,1h"):
        with pytest.raises(ConfigError, match="PROVIDER_NOTICE_LEADS"):
            notice_leads(bad)
    assert quiet_hours("") is None
    with pytest.raises(ConfigError, match="PROVIDER_QUIET_HOURS"):
        quiet_hours("21:00")


def test_quiet_hours_hold_a_text_of_a_change_but_not_a_reminder_due_within_them(
    api, session_factory, cfg, phone, standin
):
    settings = dict(cfg)
    early = {"start": "2031-03-05T13:30:00+00:00", "end": "2031-03-05T15:00:00+00:00"}  # 07:30 CST
    night = datetime(2031, 3, 5, 4, 0, tzinfo=UTC)  # 22:00 CST the evening before
    with time_machine.travel(night, tick=False) as clock:
        order_id = api.sale(appointment=early)["work_orders"][0]["id"]
        run_due(session_factory, settings, phone)
        assert texts(standin) == []  # held: Springfield is asleep
        [routed] = [n for n in notices_of(session_factory, order_id) if n.lead == "now"]
        assert [(d.status, d.next_attempt_at) for d in routed.deliveries] == [
            ("held", datetime(2031, 3, 5, 13, 0, tzinfo=UTC))  # 07:00 local
        ]
        clock.move_to(datetime(2031, 3, 5, 12, 30, 1, tzinfo=UTC))  # 06:30: the hour-before reminder
        run_due(session_factory, settings, phone)
        assert [t.split(".")[0] for t in texts(standin)] == [
            f"Dispatch: Reminder: visit for order #{order_id}"
        ]
        clock.move_to(datetime(2031, 3, 5, 13, 0, 1, tzinfo=UTC))  # 07:00: the quiet hours end
        run_due(session_factory, settings, phone)
    assert [t.split(".")[0] for t in texts(standin)] == [
        f"Dispatch: Reminder: visit for order #{order_id}",
        f"Dispatch: New order #{order_id}",
    ]


def _endpoint(api, url: str) -> str:
    response = api.put("/api/v1/providers/SPR-HEAT/endpoint", "admin", {"url": url})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["url"] == url and body["secret"].startswith("whsec_")
    return body["secret"]


def test_a_signed_webhook_is_verified_by_an_independent_receiver_which_refuses_a_replay_and_a_tampered_body(
    api, session_factory, cfg, phone, receiver
):
    receiver.secret = _endpoint(api, receiver.url)
    got = api.get("/api/v1/providers/SPR-HEAT/endpoint", "supervisor").get_json()
    assert got["url"] == receiver.url and "secret" not in got  # shown once only
    order_id = api.sale(name="Wanda Private", phone="+1 217 555 0177")["work_orders"][0]["id"]
    run_due(session_factory, dict(cfg), phone)
    [delivery] = receiver.deliveries
    assert delivery.verdict == "accepted", delivery.verdict
    body = delivery.json
    assert body["type"] == "work_order.routed" and body["data"]["work_order_id"] == order_id
    assert body["data"]["address"] == {"street": "12 Elm St", "city": "Springfield"}
    assert (
        "Wanda" not in delivery.body.decode() and "0177" not in delivery.body.decode()
    )  # no more than needed
    [notice] = notices_of(session_factory, order_id)
    assert delivery.headers["webhook-id"] == notice.webhook_id

    def post(headers: dict, body: bytes) -> int:
        return requests.post(receiver.url, data=body, headers=headers, timeout=5).status_code

    headers = {k: v for k, v in delivery.headers.items() if k.startswith("webhook-") or k == "content-type"}
    assert post(headers, delivery.body) == 409  # the same delivery again: a replay
    tampered = delivery.body.replace(b"12 Elm St", b"99 Elm St")
    assert post({**headers, "webhook-id": "msg_forged"}, tampered) == 401
    stale = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 600)}
    assert post({**stale, "webhook-id": "msg_old"}, delivery.body) == 401
    assert [d.verdict for d in receiver.deliveries[1:]] == ["replayed", "bad signature", "stale timestamp"]


def test_a_failing_endpoint_is_retried_with_back_off_under_one_id_and_a_410_is_not_retried(
    api, session_factory, cfg, phone, receiver
):
    receiver.secret = _endpoint(api, receiver.url)
    settings = dict(cfg)
    receiver.answers = [500, 503, 200, 410]
    with time_machine.travel(T0, tick=False) as clock:
        first = api.sale()["work_orders"][0]["id"]
        run_due(session_factory, settings, phone)
        [webhook] = [d for d in notices_of(session_factory, first)[0].deliveries if d.channel == "webhook"]
        assert (webhook.status, webhook.next_attempt_at) == ("scheduled", T0 + timedelta(seconds=5))
        clock.move_to(T0 + timedelta(seconds=4))
        run_due(session_factory, settings, phone)
        assert len(receiver.deliveries) == 1  # not before its back-off
        clock.move_to(T0 + timedelta(seconds=5))
        run_due(session_factory, settings, phone)  # 503: next after 30 s more
        clock.move_to(T0 + timedelta(seconds=35))
        run_due(session_factory, settings, phone)
        second = api.sale(phone="+1 217 555 0178")["work_orders"][0]["id"]
        run_due(session_factory, settings, phone)
        clock.move_to(T0 + timedelta(hours=2))
        run_due(session_factory, settings, phone)
    assert [d.status for d in receiver.deliveries] == [500, 503, 200, 410]
    assert len({d.headers["webhook-id"] for d in receiver.deliveries[:3]}) == 1  # one id for every retry
    [webhook] = [d for d in notices_of(session_factory, first)[0].deliveries if d.channel == "webhook"]
    assert webhook.status == "delivered"
    assert [(a.number, a.outcome, a.http_status, a.next_retry_at) for a in webhook.attempt_log] == [
        (1, "retry", 500, T0 + timedelta(seconds=5)),
        (2, "retry", 503, T0 + timedelta(seconds=35)),
        (3, "delivered", 200, None),
    ]
    [gone] = [d for d in notices_of(session_factory, second)[0].deliveries if d.channel == "webhook"]
    assert (gone.status, gone.attempts, [a.http_status for a in gone.attempt_log]) == ("failed", 1, [410])


def test_the_delivery_log_is_the_providers_own_and_headquarters_sees_all(api, session_factory, cfg, phone):
    mine = api.sale()["work_orders"][0]["id"]
    theirs = api.sale(city="Riverton", phone="+1 303 555 0113")["work_orders"][0]["id"]
    run_due(session_factory, awake(cfg), phone)
    listed = api.get("/api/v1/notices", "provider:SPR-HEAT").get_json()
    assert [n["work_order_id"] for n in listed["items"]] == [mine]
    [delivery] = listed["items"][0]["deliveries"]
    assert (delivery["channel"], delivery["status"], len(delivery["attempts"])) == ("text", "delivered", 1)
    other_id = notices_of(session_factory, theirs)[0].id
    assert api.get(f"/api/v1/notices/{other_id}", "provider:SPR-HEAT").status_code == 404
    assert api.get(f"/api/v1/notices/{other_id}", "provider:RIV-PRO").status_code == 200
    # A provider's own filter cannot widen what it sees.
    with session_factory() as session:
        riv = session.scalar(select(ProviderNotice.provider_id).where(ProviderNotice.id == other_id))
    assert api.get(f"/api/v1/notices?provider_id={riv}", "provider:SPR-HEAT").get_json()["items"] == []
    hq = api.get(f"/api/v1/notices?provider_id={riv}", "supervisor").get_json()
    assert [n["work_order_id"] for n in hq["items"]] == [theirs]
    assert api.get("/api/v1/notices", "sales").status_code == 403


def test_endpoints_are_set_by_headquarters_with_a_checked_url(api, session_factory):
    bad = api.put("/api/v1/providers/SPR-HEAT/endpoint", "admin", {"url": "ftp://example.com/x"})
    assert bad.status_code == 422 and "url" in json.dumps(bad.get_json())
    assert (
        api.put(
            "/api/v1/providers/SPR-HEAT/endpoint", "provider:SPR-HEAT", {"url": "https://x.example"}
        ).status_code
        == 403
    )
    assert (
        api.put("/api/v1/providers/NOPE/endpoint", "admin", {"url": "https://x.example"}).status_code == 404
    )
    first = api.put("/api/v1/providers/SPR-HEAT/endpoint", "admin", {"url": "https://x.example/a"}).get_json()
    again = api.put("/api/v1/providers/SPR-HEAT/endpoint", "admin", {"url": "https://x.example/b"}).get_json()
    assert first["secret"] != again["secret"]  # replacing it issues a new secret
    assert api.delete("/api/v1/providers/SPR-HEAT/endpoint", "admin").status_code == 204
    assert api.get("/api/v1/providers/SPR-HEAT/endpoint", "admin").status_code == 404
    with session_factory() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity == "provider").order_by(AuditEvent.seq)
        ).all()
        assert session.scalar(select(NoticeDelivery.id)) is None
    assert [a for a in actions if a.startswith("endpoint")] == [
        "endpoint_set",
        "endpoint_replaced",
        "endpoint_removed",
    ]


def test_the_operator_sets_an_endpoint_whose_secret_signs_what_the_receiver_accepts(
    app, api, session_factory, cfg, phone, receiver
):
    cli = CliRunner()
    result = cli.invoke(
        main, ["provider", "endpoint-set", "SPR-HEAT", receiver.url], obj=ScriptInfo(create_app=lambda: app)
    )
    assert result.exit_code == 0, result.output
    receiver.secret = result.output.strip().splitlines()[-1]
    assert receiver.secret.startswith("whsec_")
    api.sale()
    run_due(session_factory, dict(cfg), phone)
    assert [d.verdict for d in receiver.deliveries] == ["accepted"]
    bad = cli.invoke(
        main, ["provider", "endpoint-set", "NOPE", receiver.url], obj=ScriptInfo(create_app=lambda: app)
    )
    assert bad.exit_code == 2 and "NOPE" in bad.output
    gone = cli.invoke(
        main, ["provider", "endpoint-remove", "SPR-HEAT"], obj=ScriptInfo(create_app=lambda: app)
    )
    assert gone.exit_code == 0 and api.get("/api/v1/providers/SPR-HEAT/endpoint", "admin").status_code == 404
