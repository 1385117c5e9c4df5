"""Scorecards and rankings: figures counted in each fact's own transaction, equal to a rebuild from
the raw records; the drill-down to orders and the customer's answers; Wilson-bound rankings with
the minimum-n rule, ties and empty days; the watch list; a provider sees only its own.

Expected values are worked out by hand in the comments. No test depends on today's date: the
mixed day runs at a fixed instant (time-machine), the rankings on cells of fixed days.
"""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import select, text

from dispatch import cli, visits
from dispatch.audit import callbacks, scorecards
from dispatch.audit.scorecards import Cell, Level, rank, wilson_interval
from dispatch.models import FIGURES, Callback, City, Provider, User, utcnow
from dispatch.platform.actors import Actor
from tests.scorecards_support import BEN, DAY, NOON, SETTINGS, aggregates, mixed_day

APP_SETTINGS = SETTINGS

SUPERVISOR = Actor(user_id=None, role="supervisor", name="test")
D1, D2, D3 = date(2031, 5, 1), date(2031, 5, 2), date(2031, 5, 3)
RIV_PRO = 3  # the demo's provider ids: SPR-HEAT 1, SPR-QUICK 2, RIV-PRO 3


def figures(**counts: int) -> dict[str, int]:
    return {name: counts.get(name, 0) for name in FIGURES}


# --- the arithmetic -------------------------------------------------------------------------------


def test_wilson_lower_bound_of_7_of_10_by_hand():
    # p = 0.7, n = 10, z = 1.959964, z^2 = 3.841459
    # centre = p + z^2/2n = 0.7 + 0.192073 = 0.892073
    # spread = z * sqrt(p(1-p)/n + z^2/4n^2) = 1.959964 * sqrt(0.021 + 0.0096036) = 1.959964 * 0.174939
    #        = 0.342874
    # denominator = 1 + z^2/n = 1.384146
    # lower = (0.892073 - 0.342874) / 1.384146 = 0.3968;  upper = (0.892073 + 0.342874) / 1.384146 = 0.8922
    lower, upper = wilson_interval(7, 10)
    assert round(lower, 4) == 0.3968 and round(upper, 4) == 0.8922


def test_wilson_small_n_is_humble_and_no_ratings_is_no_score():
    # 3 of 3: centre = 1 + 3.841459/6 = 1.640243, spread = z * sqrt(3.841459/36) = 0.640243,
    # denominator = 1 + 3.841459/3 = 2.280486: lower = 1 / 2.280486 = 0.4385 (not 100%).
    assert round(wilson_interval(3, 3)[0], 4) == 0.4385
    # 70 of 100: 0.7 + 0.019207 = 0.719207 centre, spread 1.959964 * sqrt(0.0021 + 0.000096) = 0.091849,
    # denominator 1.038415: lower = 0.627358 / 1.038415 = 0.6042. More evidence, higher bound.
    assert round(wilson_interval(70, 100)[0], 4) == 0.6042
    assert wilson_interval(0, 0) is None
    assert wilson_interval(0, 5)[0] == 0.0


def _row(code: str, rated: int, very: int, provider_id: int | None = None) -> scorecards.ScoreRow:
    provider = Provider(id=provider_id or abs(hash(code)) % 10_000, code=code, name=code)
    return scorecards.ScoreRow(provider, None, None, None, figures(rated=rated, very_satisfied=very))


def test_ranking_by_lower_bound_ties_to_larger_n_then_code_and_small_n_never_on_top():
    rows = [
        _row("TINY", 3, 3),  # 100% of 3: below the minimum n, not ranked
        _row("ZED", 10, 7),  # 0.3968
        _row("ALPHA", 10, 7),  # 0.3968, same n: the code decides, ALPHA before ZED
        _row("BIG", 100, 70),  # 0.6042: the same 70% proves more
        _row("MORE", 20, 14),  # 70% of 20: lower bound 0.4810, between BIG and the 7-of-10s
        _row("NONE", 0, 0),  # no ratings: no score
    ]
    ranked = rank(rows, min_rated=10)
    assert [(r.code, r.rank) for r in ranked] == [
        ("BIG", 1),
        ("MORE", 2),
        ("ALPHA", 3),
        ("ZED", 4),
        ("NONE", None),
        ("TINY", None),
    ]
    assert round(ranked[1].score, 4) == 0.4810
    tiny = ranked[-1]
    assert (tiny.ranked, tiny.score, tiny.rate, tiny.rated, tiny.of) == (False, None, None, 3, 4)
    assert round(tiny.lower, 4) == 0.4385 and tiny.upper == 1.0
    none = ranked[-2]
    assert (none.lower, none.upper, none.score) == (None, None, None)
    # A tie in the lower bound goes to the larger n first: 14 of 20 (0.4810) beats nothing here, so
    # build one: 1 of 2 and 2 of 4 have different bounds; 0 of 2 and 0 of 4 both have 0.0.
    tie = rank([_row("A-SMALL", 2, 0), _row("B-LARGE", 4, 0)], min_rated=2)
    assert [r.code for r in tie] == ["B-LARGE", "A-SMALL"]


# --- the mixed day, through the API ----------------------------------------------------------------


@pytest.fixture
def day(api, session_factory):
    with time_machine.travel(NOON, tick=True):
        return mixed_day(api, session_factory)


def test_a_mixed_day_counts_every_figure_and_the_rebuild_equals_what_was_kept(api, day, engine, worker_env):
    card = api.get(f"/api/v1/scorecards/providers/SPR-HEAT?day={DAY}", "supervisor")
    assert card.status_code == 200, card.get_json()
    body = card.get_json()
    # SPR-HEAT: 5 Springfield sales + the Bayview order assigned to it = 6 dispatched; 4 closings
    # (o1, o2 completed on a first visit; o3, o4 "customer not home"); 4 verdicts: o1, o2, o4
    # confirmed, o3 contradicted (a not-home claim, checked and contradicted; o4 checked); ratings:
    # o1 very satisfied, o2 satisfied; one complaint (o3).
    assert body["total"] == figures(
        dispatched=6,
        closed=4,
        first_visit_completed=2,
        not_home_claims=2,
        verdicts=4,
        confirmed=3,
        contradicted=1,
        not_home_checked=2,
        not_home_contradicted=1,
        rated=2,
        very_satisfied=1,
        complaints=1,
    )
    assert body["rates"] == {
        "very_satisfied_rate": 0.5,
        "not_home_contradicted_share": 0.5,
        "contradicted_share": 0.25,
        "first_visit_share": 0.5,
    }
    assert [d["day"] for d in body["days"]] == [DAY.isoformat()]
    teams = {t["city"]: t["figures"]["dispatched"] for t in body["teams"]}
    assert teams == {"Springfield": 5, "Bayview": 1}
    ana = next(i for i in body["installers"] if i["installer"]["code"] == "SH-01")
    # Ana closed o1 (completed, first visit, very satisfied) and o3 (not home, contradicted).
    assert ana["figures"] == figures(
        closed=2,
        first_visit_completed=1,
        not_home_claims=1,
        verdicts=2,
        confirmed=1,
        contradicted=1,
        not_home_checked=1,
        not_home_contradicted=1,
        rated=1,
        very_satisfied=1,
        complaints=1,
    )
    riv = api.get(f"/api/v1/scorecards?day={DAY}&provider_id={RIV_PRO}", "supervisor").get_json()["items"]
    assert riv[0]["figures"] == figures(
        dispatched=1, closed=1, first_visit_completed=1, verdicts=1, contradicted=1, complaints=1
    )
    # The day before and after: no data, no rows (no score), not zeros.
    empty = api.get(f"/api/v1/scorecards?day={DAY + timedelta(days=1)}", "supervisor").get_json()
    assert empty["total"] == 0 and empty["items"] == []

    kept = aggregates(engine)
    assert len(kept) >= 6
    env = {k: v for k, v in worker_env.items() if k.startswith("DISPATCH_")}
    ranged = CliRunner().invoke(
        cli.main,
        [
            "scorecards",
            "rebuild",
            "--from",
            str(DAY - timedelta(days=1)),
            "--to",
            str(DAY + timedelta(days=1)),
        ],
        env=env,
    )
    assert ranged.exit_code == 0, ranged.output
    assert aggregates(engine) == kept
    # Lose the aggregates altogether: a full rebuild brings back exactly what was kept.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM scorecard_days"))
    full = CliRunner().invoke(cli.main, ["scorecards", "rebuild"], env=env)
    assert full.exit_code == 0, full.output
    assert "rebuilt" in full.output
    assert aggregates(engine) == kept


def test_a_wrong_aggregate_is_put_right_by_the_rebuild(api, day, engine, session_factory):
    kept = aggregates(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE scorecard_days SET very_satisfied = very_satisfied + 5, rated = rated + 5"))
    assert aggregates(engine) != kept
    with session_factory() as session:
        report = scorecards.rebuild(session, DAY, DAY)
        session.commit()
    assert aggregates(engine) == kept and report.facts > 0


def test_drill_down_lists_the_orders_behind_a_figure_with_the_customers_answer(api, day):
    path = f"/api/v1/scorecards/providers/SPR-HEAT/orders?day={DAY}"
    contradicted = api.get(path + "&figure=contradicted", "supervisor").get_json()
    assert contradicted["total"] == 1
    [item] = contradicted["items"]
    assert (
        item["work_order"]["id"] == day.o3 and item["source"] == "verdict" and item["day"] == DAY.isoformat()
    )
    assert item["callback"]["claim"] == "customer_not_home" and item["callback"]["verdict"] == "contradicted"
    assert item["installer"]["code"] == "SH-01" and item["visit"]["reason"] == "customer_not_home"
    # What the robot heard, and how it read it: the evidence behind the fine.
    heard = item["answer"]["heard"]
    assert item["answer"]["channel"] == "voice" and item["agent"] is None
    assert heard[-1]["input"] == "speech" and heard[-1]["result"] == "nobody_came"
    assert "nobody came" in heard[-1]["text"]
    assert item["complaint_id"] is None  # the verdict's record; the complaint is its own figure

    confirmed = api.get(path + "&figure=confirmed", "supervisor").get_json()
    assert [i["work_order"]["id"] for i in confirmed["items"]] == [day.o1, day.o2, day.o4]
    by_order = {i["work_order"]["id"]: i for i in confirmed["items"]}
    assert by_order[day.o1]["answer"]["heard"][0]["input"] == "dtmf"
    # Answers the callback team took name the agent.
    assert by_order[day.o2]["answer"]["channel"] == "human"
    assert by_order[day.o2]["agent"]["name"] == "demo-callback"

    complaints = api.get(path + "&figure=complaints", "supervisor").get_json()["items"]
    assert [(c["work_order"]["id"], c["source"]) for c in complaints] == [(day.o3, "complaint")]
    assert complaints[0]["complaint_id"] is not None and complaints[0]["answer"]["channel"] == "voice"

    dispatched = api.get(path + "&figure=dispatched&city=Bayview", "supervisor").get_json()["items"]
    assert [d["work_order"]["id"] for d in dispatched] == [day.bay]
    ben = api.get(path + f"&figure=not_home_claims&installer_id={BEN}", "supervisor").get_json()["items"]
    assert [b["work_order"]["id"] for b in ben] == [day.o4]
    # Every figure's list is as long as the figure.
    total = api.get(f"/api/v1/scorecards/providers/SPR-HEAT?day={DAY}", "supervisor").get_json()["total"]
    for figure, count in total.items():
        listed = api.get(f"{path}&figure={figure}&per_page=200", "supervisor").get_json()
        assert listed["total"] == count, figure


def test_a_provider_sees_its_own_scorecard_rank_and_evidence_only(api, day):
    own = api.get(f"/api/v1/scorecards/providers/SPR-HEAT?day={DAY}", "provider:SPR-HEAT")
    assert own.status_code == 200
    for path in (
        f"/api/v1/scorecards/providers/RIV-PRO?day={DAY}",
        f"/api/v1/scorecards/providers/RIV-PRO/orders?day={DAY}&figure=contradicted",
        f"/api/v1/scorecards/providers/NO-SUCH?day={DAY}",
    ):
        refused = api.get(path, "provider:SPR-HEAT")
        assert refused.status_code == 404, path
    # Lists are cut down to its own rows; asking for another provider gives nothing.
    listed = api.get(f"/api/v1/scorecards?day={DAY}&level=installer", "provider:SPR-HEAT").get_json()
    assert {i["provider"]["code"] for i in listed["items"]} == {"SPR-HEAT"}
    other = api.get(f"/api/v1/scorecards?day={DAY}&provider_id={RIV_PRO}", "provider:SPR-HEAT").get_json()
    assert other["items"] == []
    ranking = api.get(f"/api/v1/rankings/providers?day={DAY}", "provider:SPR-HEAT").get_json()
    assert [r["provider"]["code"] for r in ranking["items"]] == ["SPR-HEAT"]
    for level in ("teams", "installers"):
        rows = api.get(f"/api/v1/rankings/{level}?day={DAY}", "provider:SPR-HEAT").get_json()["items"]
        assert rows and {r["provider"]["code"] for r in rows} == {"SPR-HEAT"}
        csv = api.get(f"/api/v1/rankings/{level}.csv?day={DAY}", "provider:RIV-PRO").get_data(as_text=True)
        assert "SPR-HEAT" not in csv and "SH-01" not in csv
    assert api.get(f"/api/v1/rankings/watch-list?day={DAY}", "provider:SPR-HEAT").status_code == 403


def test_concurrent_verdicts_in_one_cell_are_all_counted(api, session_factory, engine):
    # Eight completed orders of one installer, answered at once by eight threads: one cell,
    # eight UPSERTs racing; every one must count.
    n = 8
    orders = [api.sale(phone=f"+1 217 555 03{i:02d}")["work_orders"][0]["id"] for i in range(n)]
    for order_id in orders:
        assert api.close(order_id, "SPR-HEAT", 1).status_code == 200
    with session_factory() as session:
        ids = list(session.scalars(select(Callback.id).where(Callback.work_order_id.in_(orders))))
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def answer(callback_id: int) -> None:
        try:
            with session_factory() as session:
                barrier.wait(timeout=10)
                callbacks.record_answer(
                    session,
                    callback_id,
                    callbacks.CustomerAnswer("done", rating="very_satisfied"),
                    channel="voice",
                    actor=Actor.system("test"),
                    settings=api.client.application.config,
                )
                session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=answer, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with session_factory() as session:
        today = scorecards.local_day(utcnow(), "America/Chicago")
        rows = scorecards.score_rows(
            session, SUPERVISOR, Level.INSTALLER, today - timedelta(days=1), today + timedelta(days=1)
        )
        ana = next(r for r in rows if r.installer and r.installer.code == "SH-01")
        assert (ana.counts["verdicts"], ana.counts["rated"], ana.counts["very_satisfied"]) == (n, n, n)
        before = aggregates(engine)
        scorecards.rebuild(session)
        session.commit()
    assert aggregates(engine) == before


def test_a_rolled_back_fact_is_never_counted_and_a_savepoint_drops_only_its_own(api, session_factory, engine):
    order = api.sale()["work_orders"][0]
    before = aggregates(engine)
    with session_factory() as session:
        user = session.scalars(select(User).where(User.name == "demo-provider-SPR-HEAT")).one()
        actor = Actor(user_id=user.id, role=user.role, provider_id=user.provider_id, name=user.name)
        visits.close_order(
            session,
            actor,
            order["id"],
            outcome="completed",
            reason=None,
            installer_id=1,
            visited_at=utcnow() - timedelta(minutes=5),
            note=None,
            settings=api.client.application.config,
        )
        session.rollback()
        session.commit()
    assert aggregates(engine) == before
    with session_factory() as session:
        provider_id = session.scalars(select(Provider.id).where(Provider.code == "SPR-HEAT")).one()
        city_id = session.scalars(select(City.id).where(City.name == "Springfield")).one()
        fact = scorecards.Fact(
            Cell(D1, provider_id, city_id), ("rated",), order["id"], "verdict", 1, utcnow()
        )
        scorecards.count(session, fact)  # kept
        try:
            with session.begin_nested():
                scorecards.count(session, fact)  # dropped with its savepoint
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        with session.begin_nested():
            scorecards.count(session, fact)  # kept: its savepoint was released
        session.commit()
        rows = scorecards.score_rows(session, SUPERVISOR, Level.PROVIDER, D1, D1)
    assert [(r.provider.code, r.counts["rated"]) for r in rows] == [("SPR-HEAT", 2)]


# --- rankings and the watch list over fixed days --------------------------------------------------


def _cells(session, rows: list[tuple[str, str, date, dict[str, int]]]) -> None:
    """Aggregates written directly (provider code, city name, day, counters)."""
    for code, city, day, counts in rows:
        provider = session.scalars(select(Provider).where(Provider.code == code)).one()
        city_id = session.scalars(select(City.id).where(City.name == city)).one()
        scorecards.tally.add(session, Cell(day, provider.id, city_id), counts)
    session.commit()


def test_rankings_through_the_api_with_ties_minimum_n_and_empty_days(api, session_factory):
    with session_factory() as session:
        _cells(
            session,
            [
                # Springfield: SPR-HEAT 7 of 10 over two days; SPR-QUICK 7 of 10 on one day (a tie:
                # same bound, same n: the code decides, SPR-HEAT first); SOLAR-SPEC 2 of 2 (100%,
                # below RANKING_MIN_RATED = 5 here: not ranked, and never on top).
                ("SPR-HEAT", "Springfield", D1, {"rated": 4, "very_satisfied": 3}),
                ("SPR-HEAT", "Springfield", D3, {"rated": 6, "very_satisfied": 4}),
                ("SPR-QUICK", "Springfield", D1, {"rated": 10, "very_satisfied": 7}),
                ("SOLAR-SPEC", "Springfield", D1, {"rated": 2, "very_satisfied": 2}),
                # Riverton: RIV-PRO 14 of 20 (lower bound 0.4810) tops the nation.
                ("RIV-PRO", "Riverton", D1, {"rated": 20, "very_satisfied": 14}),
                ("SOLAR-SPEC", "Riverton", D1, {"rated": 1, "very_satisfied": 1}),
            ],
        )
    api.client.application.config["RANKING_MIN_RATED"] = 5
    body = api.get(f"/api/v1/rankings/providers?from={D1}&to={D3}", "supervisor").get_json()
    assert body["min_rated"] == 5 and body["from"] == D1.isoformat()
    rows = [(r["provider"]["code"], r["rank"], r["n"], r["status"]) for r in body["items"]]
    assert rows == [
        ("RIV-PRO", 1, 20, "ranked"),
        ("SPR-HEAT", 2, 10, "ranked"),
        ("SPR-QUICK", 3, 10, "ranked"),
        ("SOLAR-SPEC", None, 3, "not_ranked"),
    ]
    heat = body["items"][1]
    assert round(heat["score"], 4) == 0.3968 and heat["rate"] == 0.7
    assert round(heat["interval"]["lower"], 4) == 0.3968 and round(heat["interval"]["upper"], 4) == 0.8922
    solar = body["items"][3]
    assert (solar["score"], solar["rate"], solar["very_satisfied"]) == (None, None, 3)
    # One day only: SPR-HEAT has 3 of 4 on D1, below the minimum; D2 has no data at all.
    d1 = api.get(f"/api/v1/rankings/providers?day={D1}", "supervisor").get_json()["items"]
    assert [(r["provider"]["code"], r["rank"]) for r in d1] == [
        ("RIV-PRO", 1),
        ("SPR-QUICK", 2),
        ("SOLAR-SPEC", None),
        ("SPR-HEAT", None),
    ]
    assert api.get(f"/api/v1/rankings/providers?day={D2}", "supervisor").get_json()["items"] == []
    # Within each city: Riverton then Springfield, each ranked on its own.
    teams = api.get(f"/api/v1/rankings/teams?from={D1}&to={D3}", "supervisor").get_json()["items"]
    assert [(t["city"], t["provider"]["code"], t["rank"], t["of"]) for t in teams] == [
        ("Riverton", "RIV-PRO", 1, 1),
        ("Riverton", "SOLAR-SPEC", None, 1),
        ("Springfield", "SPR-HEAT", 1, 2),
        ("Springfield", "SPR-QUICK", 2, 2),
        ("Springfield", "SOLAR-SPEC", None, 2),
    ]
    springfield = api.get(f"/api/v1/rankings/teams?from={D1}&to={D3}&city=Springfield", "supervisor")
    assert {t["city"] for t in springfield.get_json()["items"]} == {"Springfield"}
    csv = api.get(f"/api/v1/rankings/providers.csv?from={D1}&to={D3}", "supervisor")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0].startswith("from,to,rank,of,provider")
    assert lines[2] == "2031-05-01,2031-05-03,2,3,SPR-HEAT,,,10,7,0.3968,0.3968,0.8922,ranked"
    assert lines[4].endswith("SOLAR-SPEC,,,3,3,,0.4385,1.0000,not_ranked")


def test_a_range_needs_its_days_and_unknown_parameters_are_refused(api):
    for query, field in (("", "day"), ("?from=2031-05-01", "to"), ("?day=2031-05-01&to=2031-05-02", "day")):
        refused = api.get(f"/api/v1/rankings/providers{query}", "supervisor")
        assert refused.status_code == 422 and field in refused.get_json()["errors"], query
    too_long = api.get("/api/v1/rankings/providers?from=2030-01-01&to=2031-12-31", "supervisor")
    assert too_long.status_code == 422 and "from" in too_long.get_json()["errors"]
    backwards = api.get("/api/v1/scorecards?from=2031-05-02&to=2031-05-01", "supervisor")
    assert backwards.status_code == 422 and "to" in backwards.get_json()["errors"]
    assert api.get("/api/v1/scorecards?day=2031-05-01&levle=team", "supervisor").status_code == 422
    # Days no record can have (and whose UTC window would overflow) are refused, not a 500.
    ancient = api.get("/api/v1/rankings/providers?day=0001-01-01", "supervisor")
    assert ancient.status_code == 422 and "day" in ancient.get_json()["errors"]
    # A NUL in a path names nothing (PostgreSQL could not even compare it).
    assert api.get("/api/v1/scorecards/providers/SPR%00HEAT?day=2031-05-01", "supervisor").status_code == 404
    assert api.get("/api/v1/ledger/statements/installers/SH%0001/2031-05", "supervisor").status_code == 404


def test_watch_list_names_teams_contradicted_well_above_their_citys_median(api, session_factory):
    with session_factory() as session:
        _cells(
            session,
            [
                # Springfield teams' contradicted share of checked not-home claims: SPR-HEAT 6/10
                # = 60%, SPR-QUICK 1/10 = 10%, SOLAR-SPEC 2/10 = 20%; median 20%. SPR-HEAT is 40
                # points above (>= 15) with 6 contradicted (>= 3): watched. SOLAR-SPEC is at the
                # median; SPR-QUICK below.
                ("SPR-HEAT", "Springfield", D1, {"not_home_checked": 10, "not_home_contradicted": 6}),
                ("SPR-QUICK", "Springfield", D1, {"not_home_checked": 10, "not_home_contradicted": 1}),
                ("SOLAR-SPEC", "Springfield", D1, {"not_home_checked": 10, "not_home_contradicted": 2}),
                # Riverton: RIV-PRO 2/2 = 100% vs SOLAR-SPEC 0/4; median 50%: 50 points above, but
                # only 2 contradicted (< 3): not on the list.
                ("RIV-PRO", "Riverton", D1, {"not_home_checked": 2, "not_home_contradicted": 2}),
                ("SOLAR-SPEC", "Riverton", D1, {"not_home_checked": 4}),
            ],
        )
    body = api.get(f"/api/v1/rankings/watch-list?day={D1}", "supervisor").get_json()
    assert (body["points"], body["min_contradicted"]) == (15.0, 3)
    assert [(w["provider"]["code"], w["city"]) for w in body["items"]] == [("SPR-HEAT", "Springfield")]
    watched = body["items"][0]
    assert (watched["checked"], watched["contradicted"], watched["share"], watched["city_median"]) == (
        10,
        6,
        0.6,
        0.2,
    )
    assert round(watched["points_above"], 6) == 40.0


def test_watch_list_evidence_is_the_contradicting_verdicts(api, day):
    # On the mixed day SPR-HEAT's Springfield team is the only one with not-home checks: the median
    # is its own share, so it is not "above" it; with two teams it would be. Add a clean team.
    config = api.client.application.config
    config["RANKING_WATCH_MIN_CONTRADICTED"] = 1
    with time_machine.travel(NOON, tick=True):
        order = api.sale(model="WS-10", phone="+1 217 555 0290")["work_orders"][0]
        assert order["provider"]["code"] == "SPR-QUICK"
        assert (
            api.close(
                order["id"], "SPR-QUICK", 3, outcome="not_completed", reason="customer_not_home"
            ).status_code
            == 200
        )
        from tests.scorecards_support import team_answer

        team_answer(
            api, api.client.application.extensions["dispatch.sessions"], order["id"], happened="confirmed"
        )
    body = api.get(f"/api/v1/rankings/watch-list?day={DAY}", "supervisor").get_json()
    # SPR-HEAT 1/2 = 50%, SPR-QUICK 0/1 = 0%: median 25%, SPR-HEAT 25 points above.
    [watched] = body["items"]
    assert watched["provider"]["code"] == "SPR-HEAT" and round(watched["points_above"], 6) == 25.0
    assert [e["work_order_id"] for e in watched["evidence"]] == [day.o3]
