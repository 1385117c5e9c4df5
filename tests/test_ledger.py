"""The bonus and fine ledger: a fine's life through the HTTP API (proposed by the verdict, posted,
appealed, upheld, reversed: the statement nets to zero), bonuses per product line, decisions taken
exactly once under concurrent requests, entries the database refuses to change, closed months,
statements equal to their entries, and a provider that sees only its own.

Amounts are minor units, worked out by hand in the comments. Times are fixed (time-machine, or
`now=` passed to the domain); no test depends on today's date.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
import time_machine
from psycopg import errors
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from dispatch.audit import callbacks, ledger
from dispatch.models import (
    AuditEvent,
    Callback,
    EntryKind,
    Fine,
    LedgerEntry,
    LedgerMonth,
    Party,
    Provider,
    User,
)
from dispatch.platform.actors import Actor
from dispatch.platform.config import DEFAULTS
from dispatch.platform.errors import Conflict
from tests.scorecards_support import DAY, NOON, SETTINGS, mixed_day
from tests.test_audit_trail import _conninfo

# Electric water heaters earn 15.00 a very-satisfied job here; other lines the default 10.00.
APP_SETTINGS = {**SETTINGS, "LEDGER_BONUS_BY_PRODUCT_LINE": "electric_wh=1500,gas_boiler=2500"}
MONTH = "2031-03"
APP_ROLE = DEFAULTS["DATABASE_APP_ROLE"]


def _actor(session, name: str) -> Actor:
    user = session.scalars(select(User).where(User.name == name)).one()
    return Actor(user_id=user.id, role=user.role, provider_id=user.provider_id, name=user.name)


@pytest.fixture
def day(api, session_factory):
    with time_machine.travel(NOON, tick=True):
        return mixed_day(api, session_factory)


def _fine_of(api, order_id: int, who: str = "supervisor") -> dict:
    fines = api.get(f"/api/v1/ledger/fines?work_order_id={order_id}", who).get_json()["items"]
    assert len(fines) == 1, fines
    return fines[0]


def test_a_fines_life_through_the_api_nets_to_zero(api, day, session_factory):
    # o3's "customer not home" was contradicted: a fine of 2,000.00 is proposed, nothing posted.
    fine = _fine_of(api, day.o3)
    assert (fine["status"], fine["amount_minor"], fine["amount"], fine["currency"]) == (
        "proposed",
        200000,
        "2000.00",
        "CNY",
    )
    assert fine["claim"] == "customer_not_home" and fine["entries"] == [] and fine["complaint_id"]
    assert api.get("/api/v1/ledger/entries?kind=fine", "supervisor").get_json()["total"] == 0
    # The provider sees its proposed fine, but cannot decide it.
    assert api.get(f"/api/v1/ledger/fines/{fine['id']}", "provider:SPR-HEAT").status_code == 200
    decide = f"/api/v1/ledger/fines/{fine['id']}/decision"
    assert api.post(decide, "provider:SPR-HEAT", {"decision": "void", "reason": "x"}).status_code == 403

    with time_machine.travel(NOON + timedelta(hours=1), tick=True):
        posted = api.post(decide, "supervisor", {"decision": "post", "reason": "the customer was home"})
        assert posted.status_code == 200, posted.get_json()
        body = posted.get_json()
        assert body["status"] == "posted" and body["decision_reason"] == "the customer was home"
        [entry] = body["entries"]
        assert (entry["kind"], entry["party"], entry["amount_minor"], entry["entry_date"]) == (
            "fine",
            "provider",
            -200000,
            DAY.isoformat(),
        )
        assert entry["callback_id"] == fine["callback_id"] and entry["work_order_id"] == day.o3
        # LEDGER_APPEAL_DAYS (14) after posting.
        until = datetime.fromisoformat(body["appeal_until"]) - datetime.fromisoformat(body["decided_at"])
        assert until == timedelta(days=14)
        again = api.post(decide, "supervisor", {"decision": "void", "reason": "changed my mind"})
        assert again.status_code == 409

        appealed = api.post(
            f"/api/v1/ledger/fines/{fine['id']}/appeal",
            "provider:SPR-HEAT",
            {"statement": "Our installer rang twice."},
        )
        assert appealed.status_code == 201, appealed.get_json()
        appeal = appealed.get_json()
        assert (appeal["status"], appeal["fine_id"], appeal["statement"]) == (
            "open",
            fine["id"],
            "Our installer rang twice.",
        )
        second = api.post(
            f"/api/v1/ledger/fines/{fine['id']}/appeal", "provider:SPR-HEAT", {"statement": "again"}
        )
        assert second.status_code == 409
        judge = f"/api/v1/ledger/appeals/{appeal['id']}/decision"
        assert api.post(judge, "provider:SPR-HEAT", {"decision": "uphold", "reason": "x"}).status_code == 403
        upheld = api.post(judge, "supervisor", {"decision": "uphold", "reason": "door camera shows a visit"})
        assert upheld.status_code == 200 and upheld.get_json()["status"] == "upheld"
        assert api.post(judge, "supervisor", {"decision": "reject", "reason": "x"}).status_code == 409

    detail = api.get(f"/api/v1/ledger/fines/{fine['id']}", "provider:SPR-HEAT").get_json()
    fined, reversal = detail["entries"]
    assert (reversal["kind"], reversal["amount_minor"], reversal["reverses_id"], reversal["appeal_id"]) == (
        "reversal",
        200000,
        fined["id"],
        appeal["id"],
    )
    assert (
        api.get(f"/api/v1/ledger/entries/{fined['id']}", "supervisor").get_json()["reversed_by_id"]
        == reversal["id"]
    )
    # The provider's March statement: -2,000.00 + 2,000.00 = 0.00.
    statement = api.get(f"/api/v1/ledger/statements/providers/SPR-HEAT/{MONTH}", "provider:SPR-HEAT")
    assert statement.status_code == 200
    st = statement.get_json()
    assert [e["amount_minor"] for e in st["entries"]] == [-200000, 200000]
    assert st["totals"] == [
        {
            "currency": "CNY",
            "entries": 2,
            "bonus": 0,
            "fine": -200000,
            "reversal": 200000,
            "net": 0,
            "net_amount": "0.00",
        }
    ]
    assert (st["from"], st["to"], st["closed"]) == ("2031-03-01", "2031-03-31", False)
    csv = api.get(f"/api/v1/ledger/statements/providers/SPR-HEAT/{MONTH}.csv", "provider:SPR-HEAT")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).splitlines()
    assert (
        lines[0]
        == "party,code,month,entry_id,entry_date,kind,amount_minor,amount,currency,work_order_id,callback_id,fine_id,appeal_id,reverses_id,memo"
    )
    assert [line.split(",")[6] for line in lines[1:]] == ["-200000", "200000", "0"]
    assert lines[-1].startswith("provider,SPR-HEAT,2031-03,total,,net,0,0.00,CNY")
    # Every step is in the audit trail, without the words of the reason or the statement.
    with session_factory() as session:
        events = session.execute(
            select(AuditEvent.entity, AuditEvent.action, AuditEvent.data)
            .where(AuditEvent.entity.in_(("ledger_fine", "ledger_appeal", "ledger_entry")))
            .order_by(AuditEvent.seq)
        ).all()
    assert [(e, a) for e, a, _ in events if e != "ledger_entry" or a == "posted"][-6:] == [
        ("ledger_fine", "proposed"),
        ("ledger_entry", "posted"),
        ("ledger_fine", "posted"),
        ("ledger_appeal", "filed"),
        ("ledger_entry", "posted"),
        ("ledger_appeal", "upheld"),
    ]
    trail = str([d for _, _, d in events])
    assert "rang twice" not in trail and "door camera" not in trail and "statement_digest" in trail


def test_a_verified_very_satisfied_job_pays_its_installer_the_product_lines_bonus(api, day):
    # o1 (electric water heater, Ana SH-01): confirmed and very satisfied -> 15.00 (the electric_wh
    # rate set above). o2 was only "satisfied", o4 not a completion: nothing for Ben.
    entries = api.get("/api/v1/ledger/entries?kind=bonus", "supervisor").get_json()["items"]
    assert [(e["installer"]["code"], e["amount_minor"], e["work_order_id"]) for e in entries] == [
        ("SH-01", 1500, day.o1)
    ]
    ana = api.get(f"/api/v1/ledger/statements/installers/SH-01/{MONTH}", "provider:SPR-HEAT").get_json()
    assert ana["party"] == "installer" and ana["provider"]["code"] == "SPR-HEAT"
    assert ana["totals"][0]["net"] == 1500 and ana["totals"][0]["net_amount"] == "15.00"
    ben = api.get(f"/api/v1/ledger/statements/installers/SH-02/{MONTH}", "supervisor").get_json()
    assert ben["entries"] == [] and ben["totals"] == []
    # The bonus is counted once, however often the answer comes again.
    assert ledger.bonus_amount({**DEFAULTS, "LEDGER_BONUS_BY_PRODUCT_LINE": ""}, "electric_wh") == 1000
    assert ledger.bonus_amount(api.client.application.config, "gas_boiler") == 2500
    assert ledger.bonus_amount(api.client.application.config, "softener") == 1000


def _decide_together(app, api, fine_id: int, decisions: tuple[str, ...]) -> list[int]:
    """Send one decision per thread, released at the same moment; their status codes."""
    barrier = threading.Barrier(len(decisions))
    results: list[int] = []

    def decide(decision: str) -> None:
        client = app.test_client()  # a client (and a database session) per request
        barrier.wait(timeout=10)
        response = client.post(
            f"/api/v1/ledger/fines/{fine_id}/decision",
            json={"decision": decision, "reason": f"{decision} it"},
            headers=api.headers("supervisor"),
        )
        results.append(response.status_code)

    threads = [threading.Thread(target=decide, args=(d,)) for d in decisions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_a_fine_decision_sent_twice_at_once_makes_one_entry(api, app, session_factory):
    """Two supervisors' requests for the same fine, released together: one is taken, one is 409."""
    fine_ids = []
    for n in range(4):
        order = api.sale(phone=f"+1 217 555 04{n:02d}")["work_orders"][0]
        closed = api.close(order["id"], "SPR-HEAT", 1, outcome="not_completed", reason="customer_not_home")
        assert closed.status_code == 200
        _contradict(session_factory, order["id"], app.config)
        fine_ids.append(_fine_of(api, order["id"])["id"])
    for fine_id in fine_ids[:3]:
        assert sorted(_decide_together(app, api, fine_id, ("post", "post"))) == [200, 409]
    # Contrary decisions at once: whichever came first stands, and the entries agree with it.
    assert sorted(_decide_together(app, api, fine_ids[3], ("post", "void"))) == [200, 409]
    with session_factory() as session:
        last = session.get(Fine, fine_ids[3])
        entries = session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "fine")).all()
        expected = fine_ids[:3] + ([fine_ids[3]] if last.status == "posted" else [])
        assert sorted(e.fine_id for e in entries) == sorted(expected)
        decided = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.entity == "ledger_fine", AuditEvent.action.in_(("posted", "voided")))
        )
        assert decided == len(fine_ids)


def _contradict(session_factory, order_id: int, settings) -> None:
    with session_factory() as session:
        callback = session.scalars(select(Callback).where(Callback.work_order_id == order_id)).one()
        callbacks.record_answer(
            session,
            callback.id,
            callbacks.CustomerAnswer(happened="nobody_came"),
            channel="voice",
            actor=Actor.system("test"),
            settings=settings,
        )
        session.commit()


def test_the_database_refuses_to_change_or_remove_an_entry(api, day, database_url, engine):
    with engine.connect() as conn:
        entry_id = conn.scalar(text("SELECT min(id) FROM ledger_entries"))
    assert entry_id is not None
    # The owner, also as a replica: the triggers fire ALWAYS.
    with psycopg.connect(_conninfo(database_url), autocommit=True) as conn:
        for replica in (False, True):
            conn.execute(f"SET session_replication_role = {'replica' if replica else 'origin'}")
            for sql in (
                f"UPDATE ledger_entries SET amount_minor = 1 WHERE id = {entry_id}",
                f"DELETE FROM ledger_entries WHERE id = {entry_id}",
                "TRUNCATE ledger_entries CASCADE",
            ):
                with pytest.raises(errors.InsufficientPrivilege) as refused:
                    with conn.transaction():
                        conn.execute(sql)
                assert "append-only" in str(refused.value)
    # The application role has no UPDATE or DELETE on it at all.
    with psycopg.connect(_conninfo(database_url), autocommit=True) as conn:
        conn.execute(f"SET ROLE {APP_ROLE}")
        for sql in (
            f"UPDATE ledger_entries SET memo = 'x' WHERE id = {entry_id}",
            f"DELETE FROM ledger_entries WHERE id = {entry_id}",
        ):
            with pytest.raises(errors.InsufficientPrivilege) as refused:
                with conn.transaction():
                    conn.execute(sql)
            assert "permission denied" in str(refused.value)
        conn.execute("RESET ROLE")
    # Nor can the API: an entry has no PUT, PATCH or DELETE.
    for method in ("put", "patch", "delete"):
        response = getattr(api.client, method)(
            f"/api/v1/ledger/entries/{entry_id}", headers=api.headers("supervisor")
        )
        assert response.status_code == 405


def test_a_closed_month_takes_no_entry_and_stays_closed(api, day, session_factory, engine):
    # March cannot be closed before it has ended (in the ledger's time zone, Asia/Shanghai).
    with time_machine.travel(datetime(2031, 3, 31, 15, 0, tzinfo=UTC), tick=False):  # 23:00 in Shanghai
        early = api.post(f"/api/v1/ledger/months/{MONTH}/close", "supervisor", {"note": "too soon"})
        assert early.status_code == 409 and "not ended" in early.get_json()["message"]
    with time_machine.travel(datetime(2031, 3, 31, 16, 30, tzinfo=UTC), tick=True):  # 00:30 on 1 April there
        closed = api.post(f"/api/v1/ledger/months/{MONTH}/close", "supervisor", {"note": "March payroll run"})
        assert closed.status_code == 200, closed.get_json()
        assert closed.get_json()["closed"] is True
        assert api.post(f"/api/v1/ledger/months/{MONTH}/close", "supervisor", {}).status_code == 409
        months = api.get("/api/v1/ledger/months", "supervisor").get_json()
        assert [(m["month"], m["closed"]) for m in months] == [(MONTH, True)]
    statement = api.get(f"/api/v1/ledger/statements/providers/SPR-HEAT/{MONTH}", "supervisor").get_json()
    assert statement["closed"] is True
    with session_factory() as session:
        supervisor = _actor(session, "demo-supervisor")
        provider_id = session.scalars(select(Provider.id).where(Provider.code == "SPR-HEAT")).one()
        # The domain refuses anything dated in March ...
        with pytest.raises(Conflict, match="closed"):
            ledger.post(
                session,
                supervisor,
                cause="test:late",
                kind=EntryKind("bonus"),
                party=Party.INSTALLER,
                provider_id=provider_id,
                installer_id=1,
                amount_minor=1000,
                currency="CNY",
                day=date(2031, 3, 20),
                memo="late",
            )
        session.rollback()
        # ... and so does the database, whatever the code does.
        with pytest.raises(DBAPIError, match="is closed"):
            session.execute(
                text(
                    "INSERT INTO ledger_entries (cause, kind, party, provider_id, installer_id, amount_minor, "
                    "currency, entry_date, memo, created_at) VALUES ('raw:late', 'bonus', 'installer', :p, 1, "
                    "1000, 'CNY', '2031-03-20', 'late', now())"
                ),
                {"p": provider_id},
            )
        session.rollback()
        # A closed month cannot be reopened or removed.
        for sql in ("UPDATE ledger_months SET closed_at = NULL", "DELETE FROM ledger_months"):
            with pytest.raises(DBAPIError, match="is closed"):
                session.execute(text(sql))
            session.rollback()
        # April is open: a correction made now is dated in April and reverses the March bonus.
        bonus = session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "bonus")).one()
        fix = ledger.reverse_entry(
            session,
            supervisor,
            bonus.id,
            "TICKET-42",
            now=datetime(2031, 4, 2, 3, 0, tzinfo=UTC),
            settings=api.client.application.config,
        )
        session.commit()
        assert (fix.entry_date, fix.amount_minor, fix.reverses_id) == (date(2031, 4, 2), -1500, bonus.id)
        with pytest.raises(Conflict, match="posted already"):
            ledger.reverse_entry(
                session, supervisor, bonus.id, "TICKET-43", settings=api.client.application.config
            )
        session.rollback()
        with pytest.raises(Conflict, match="is a reversal"):
            ledger.reverse_entry(
                session, supervisor, fix.id, "TICKET-44", settings=api.client.application.config
            )
        session.rollback()
        month = session.scalars(select(LedgerMonth).where(LedgerMonth.month == MONTH)).one()
        assert month.close_note == "March payroll run"
        closed_event = session.scalars(select(AuditEvent).where(AuditEvent.entity == "ledger_month")).one()
        assert closed_event.action == "closed" and "payroll" not in str(closed_event.data)
    # March's statement for Ana still shows the bonus; April's its reversal: each sums its own lines.
    march = api.get(f"/api/v1/ledger/statements/installers/SH-01/{MONTH}", "supervisor").get_json()
    april = api.get("/api/v1/ledger/statements/installers/SH-01/2031-04", "supervisor").get_json()
    assert [t["net"] for t in march["totals"]] == [1500] and [t["net"] for t in april["totals"]] == [-1500]


def test_statement_totals_are_the_sums_of_their_entries(api, session_factory):
    with session_factory() as session:
        supervisor = _actor(session, "demo-supervisor")
        heat = session.scalars(select(Provider).where(Provider.code == "SPR-HEAT")).one()
        entries = [
            # (cause, kind, amount): bonuses 10.00 + 15.00 + 25.00 = 50.00; reversal of the 15.00.
            ("t:1", "bonus", 1000, date(2031, 6, 1)),
            ("t:2", "bonus", 1500, date(2031, 6, 15)),
            ("t:3", "bonus", 2500, date(2031, 6, 30)),
            ("t:4", "bonus", 7000, date(2031, 7, 1)),  # July: not in June's statement
        ]
        posted = {}
        for cause, kind, amount, day in entries:
            posted[cause] = ledger.post(
                session,
                supervisor,
                cause=cause,
                kind=EntryKind(kind),
                party=Party.INSTALLER,
                provider_id=heat.id,
                installer_id=1,
                amount_minor=amount,
                currency="CNY",
                day=day,
                memo=cause,
            )
        ledger.reversal(session, supervisor, posted["t:2"], day=date(2031, 6, 20), memo="wrong job")
        session.commit()
    june = api.get("/api/v1/ledger/statements/installers/SH-01/2031-06", "supervisor").get_json()
    amounts = [e["amount_minor"] for e in june["entries"]]
    # 1000 + 1500 - 1500 + 2500 = 3500: bonus 5000, reversal -1500.
    assert amounts == [1000, 1500, -1500, 2500]
    assert june["totals"] == [
        {
            "currency": "CNY",
            "entries": 4,
            "bonus": 5000,
            "fine": 0,
            "reversal": -1500,
            "net": 3500,
            "net_amount": "35.00",
        }
    ]
    assert sum(amounts) == june["totals"][0]["net"]
    csv = api.get("/api/v1/ledger/statements/installers/SH-01/2031-06.csv", "supervisor").get_data(
        as_text=True
    )
    assert csv.splitlines()[-1].startswith("installer,SH-01,2031-06,total,,net,3500,35.00,CNY")


def test_an_appeal_after_the_window_or_of_a_voided_fine_is_refused(api, app, session_factory):
    orders = []
    for n in range(2):
        order = api.sale(phone=f"+1 217 555 05{n:02d}")["work_orders"][0]
        assert (
            api.close(
                order["id"], "SPR-HEAT", 1, outcome="not_completed", reason="customer_not_home"
            ).status_code
            == 200
        )
        _contradict(session_factory, order["id"], app.config)
        orders.append(order["id"])
    with session_factory() as session:
        supervisor = _actor(session, "demo-supervisor")
        provider = _actor(session, "demo-provider-SPR-HEAT")
        fines = session.scalars(select(Fine).where(Fine.work_order_id.in_(orders)).order_by(Fine.id)).all()
        posted_at = datetime(2031, 8, 1, 2, 0, tzinfo=UTC)
        ledger.decide_fine(
            session, supervisor, fines[0].id, "post", "proved", now=posted_at, settings=app.config
        )
        ledger.decide_fine(
            session,
            supervisor,
            fines[1].id,
            "void",
            "the number was wrong",
            now=posted_at,
            settings=app.config,
        )
        session.commit()
        # LEDGER_APPEAL_DAYS = 14: on the 14th day it is in time, a minute later it is not.
        late = posted_at + timedelta(days=14, minutes=1)
        with pytest.raises(Conflict, match="could be appealed until"):
            ledger.file_appeal(session, provider, fines[0].id, "late", now=late, settings=app.config)
        session.rollback()
        with pytest.raises(Conflict, match="voided"):
            ledger.file_appeal(session, provider, fines[1].id, "void", now=posted_at, settings=app.config)
        session.rollback()
        appeal = ledger.file_appeal(
            session, provider, fines[0].id, "in time", now=posted_at + timedelta(days=14), settings=app.config
        )
        ledger.decide_appeal(
            session,
            supervisor,
            appeal.id,
            "reject",
            "no evidence",
            now=posted_at + timedelta(days=15),
            settings=app.config,
        )
        session.commit()
        # A rejected appeal leaves the fine in force; a voided fine never made an entry.
        entries = session.scalars(
            select(LedgerEntry).where(LedgerEntry.fine_id.in_([f.id for f in fines]))
        ).all()
        assert [(e.fine_id, e.kind, e.amount_minor) for e in entries] == [(fines[0].id, "fine", -200000)]


def test_a_provider_sees_only_its_own_fines_entries_appeals_and_statements(api, day):
    riv_fine = _fine_of(api, day.r1)
    heat_fine = _fine_of(api, day.o3)
    for fine in (riv_fine, heat_fine):
        assert (
            api.post(
                f"/api/v1/ledger/fines/{fine['id']}/decision",
                "supervisor",
                {"decision": "post", "reason": "proved"},
            ).status_code
            == 200
        )
    heat = "provider:SPR-HEAT"
    for path in (
        f"/api/v1/ledger/fines/{riv_fine['id']}",
        f"/api/v1/ledger/entries/{api.get('/api/v1/ledger/entries?provider_id=3', 'supervisor').get_json()['items'][0]['id']}",
        f"/api/v1/ledger/statements/providers/RIV-PRO/{MONTH}",
        f"/api/v1/ledger/statements/providers/RIV-PRO/{MONTH}.csv",
        f"/api/v1/ledger/statements/installers/RP-01/{MONTH}",
    ):
        assert api.get(path, heat).status_code == 404, path
    # Appealing another provider's fine is the same 404, and changes nothing.
    refused = api.post(f"/api/v1/ledger/fines/{riv_fine['id']}/appeal", heat, {"statement": "not ours"})
    assert refused.status_code == 404
    assert api.get("/api/v1/ledger/appeals", "supervisor").get_json()["total"] == 0
    for path in ("/api/v1/ledger/fines", "/api/v1/ledger/entries", "/api/v1/ledger/fines?provider_id=3"):
        items = api.get(path, heat).get_json()["items"]
        assert {i["provider"]["code"] for i in items} <= {"SPR-HEAT"}, path
    assert api.get("/api/v1/ledger/entries?provider_id=3", heat).get_json()["total"] == 0
    assert api.get("/api/v1/ledger/entries", "supervisor").get_json()["total"] == 3  # 2 fines, 1 bonus
    assert api.get("/api/v1/ledger/entries?provider_id=3", "supervisor").get_json()["total"] == 1


def test_sqlite_has_the_same_guards_and_counters(tmp_path):
    """The embedded database: entries append-only, closed months locked, UPSERT counters."""
    from dispatch.audit import scorecards
    from dispatch.audit.scorecards import Cell
    from dispatch.audit.trail import make_session_factory
    from dispatch.models import City
    from dispatch.platform import migrate
    from dispatch.platform.db import make_engine
    from dispatch.reference import demo

    url = f"sqlite:///{tmp_path / 'd.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            demo.seed(session)
            session.commit()
            supervisor = _actor(session, "demo-supervisor")
            heat = session.scalars(select(Provider).where(Provider.code == "SPR-HEAT")).one()
            entry = ledger.post(
                session,
                supervisor,
                cause="t:1",
                kind=EntryKind.BONUS,
                party=Party.INSTALLER,
                provider_id=heat.id,
                installer_id=1,
                amount_minor=1000,
                currency="CNY",
                day=date(2031, 3, 5),
                memo="t",
            )
            session.commit()
            for sql in (
                f"UPDATE ledger_entries SET amount_minor = 1 WHERE id = {entry.id}",
                "DELETE FROM ledger_entries",
            ):
                with pytest.raises(DBAPIError, match="append-only"):
                    session.execute(text(sql))
                session.rollback()
            ledger.close_month(
                session, supervisor, MONTH, None, now=datetime(2031, 4, 1, 12, tzinfo=UTC), settings=DEFAULTS
            )
            session.commit()
            with pytest.raises(DBAPIError, match="closed"):
                session.execute(
                    text(
                        "INSERT INTO ledger_entries (cause, kind, party, provider_id, installer_id, amount_minor, "
                        "currency, entry_date, memo, created_at) VALUES ('raw', 'bonus', 'installer', :p, 1, 1, "
                        "'CNY', '2031-03-09', 'x', '2031-04-01 00:00:00')"
                    ),
                    {"p": heat.id},
                )
            session.rollback()
            with pytest.raises(DBAPIError, match="closed"):
                session.execute(text("UPDATE ledger_months SET closed_at = NULL"))
            session.rollback()
            city = session.scalars(select(City.id).where(City.name == "Springfield")).one()
            for _ in range(2):
                scorecards.tally.add(
                    session, Cell(date(2031, 3, 5), heat.id, city), {"rated": 2, "very_satisfied": 1}
                )
            session.commit()
            rows = scorecards.score_rows(
                session, supervisor, scorecards.Level.PROVIDER, date(2031, 3, 5), date(2031, 3, 5)
            )
            assert [(r.counts["rated"], r.counts["very_satisfied"]) for r in rows] == [(4, 2)]
    finally:
        engine.dispose()


def test_erasing_the_customer_scrubs_the_ledgers_free_text_and_keeps_the_money(
    api, day, session_factory, app
):
    from dispatch.customers import erasure
    from dispatch.models import WorkOrder

    fine = _fine_of(api, day.o3)
    posted = api.post(
        f"/api/v1/ledger/fines/{fine['id']}/decision",
        "supervisor",
        {"decision": "post", "reason": "Customer 2 was home"},
    )
    assert posted.status_code == 200
    statement = "We rang at 12 Elm St twice; Customer 2 did not open (+12175550202)."
    assert (
        api.post(
            f"/api/v1/ledger/fines/{fine['id']}/appeal", "provider:SPR-HEAT", {"statement": statement}
        ).status_code
        == 201
    )
    assert (
        api.post(f"/api/v1/work-orders/{day.o3}/cancel", "agent", {"reason": "customer withdrew"}).status_code
        == 200
    )
    with session_factory() as session:
        customer_id = session.get(WorkOrder, day.o3).customer_id
        erasure.erase_customer(
            session, Actor.system("test"), customer_id, reason="REQ-1", settings=app.config
        )
        session.commit()
    detail = api.get(f"/api/v1/ledger/fines/{fine['id']}", "supervisor").get_json()
    text_left = detail["decision_reason"] + detail["appeal"]["statement"]
    for value in ("Customer 2", "12 Elm St", "2175550202"):
        assert value not in text_left
    assert [e["amount_minor"] for e in detail["entries"]] == [-200000]
